/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small JSON writer for nested documents (check, and later attach and emit).
 * libsmartcols writes tables; these documents are objects of arrays of objects.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

struct json {
	FILE *out;
	int depth;
	bool need_comma[32];
};

void json_init(struct json *j, FILE *out);
/*
 * Every command's JSON document: an object whose first key is "schema", the
 * version of the documents' keys (man page, JSON SCHEMA); json_document_end()
 * closes it and ends the line.
 */
#define IOPASS_JSON_SCHEMA 1
void json_document_begin(struct json *j, FILE *out);
void json_document_end(struct json *j);
/* key is NULL inside arrays and for the top level value */
void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_string(struct json *j, const char *key, const char *value); /* NULL: null */
void json_int(struct json *j, const char *key, long long value);
void json_bool(struct json *j, const char *key, bool value);
void json_null(struct json *j, const char *key);
/* ends the document with a newline */
void json_finish(struct json *j);

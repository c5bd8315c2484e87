// SPDX-License-Identifier: GPL-2.0-or-later
#include <sys/param.h>

#include "json.h"

void json_init(struct json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->need_comma[0] = false;
}

void json_document_begin(struct json *j, FILE *out)
{
	json_init(j, out);
	json_object_begin(j, NULL);
	json_int(j, "schema", IOPASS_JSON_SCHEMA);
}

void json_document_end(struct json *j)
{
	json_object_end(j);
	json_finish(j);
}

/* A JSON string: runs of plain characters in one write, the rest escaped. */
static void put_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	for (;;) {
		const unsigned char *run = p;

		while (*p >= 0x20 && *p != '"' && *p != '\\' && *p != 0x7f)
			p++;
		if (p > run)
			fwrite(run, 1, (size_t)(p - run), out);
		if (!*p)
			break;
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		default:
			fprintf(out, "\\u%04x", *p);
		}
		p++;
	}
	fputc('"', out);
}

/* comma, newline, indentation and key before a value */
static void prefix(struct json *j, const char *key)
{
	if (j->depth > 0) {
		static const char spaces[] = "                                                                ";

		fputs(j->need_comma[j->depth] ? ",\n" : "\n", j->out);
		fwrite(spaces, 1, MIN((size_t)j->depth * 2, sizeof(spaces) - 1), j->out);
	}
	j->need_comma[j->depth] = true;
	if (key) {
		put_string(j->out, key);
		fputs(": ", j->out);
	}
}

static void open_(struct json *j, const char *key, char c)
{
	prefix(j, key);
	fputc(c, j->out);
	if (j->depth < (int)(sizeof(j->need_comma) / sizeof(j->need_comma[0])) - 1)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void close_(struct json *j, char c)
{
	bool empty = !j->need_comma[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (!empty) {
		fputc('\n', j->out);
		for (int i = 0; i < j->depth; i++)
			fputs("  ", j->out);
	}
	fputc(c, j->out);
}

void json_object_begin(struct json *j, const char *key)
{
	open_(j, key, '{');
}

void json_object_end(struct json *j)
{
	close_(j, '}');
}

void json_array_begin(struct json *j, const char *key)
{
	open_(j, key, '[');
}

void json_array_end(struct json *j)
{
	close_(j, ']');
}

void json_string(struct json *j, const char *key, const char *value)
{
	prefix(j, key);
	if (value)
		put_string(j->out, value);
	else
		fputs("null", j->out);
}

void json_int(struct json *j, const char *key, long long value)
{
	prefix(j, key);
	fprintf(j->out, "%lld", value);
}

void json_bool(struct json *j, const char *key, bool value)
{
	prefix(j, key);
	fputs(value ? "true" : "false", j->out);
}

void json_null(struct json *j, const char *key)
{
	prefix(j, key);
	fputs("null", j->out);
}

void json_finish(struct json *j)
{
	fputc('\n', j->out);
}

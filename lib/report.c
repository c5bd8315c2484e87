// SPDX-License-Identifier: LGPL-2.1-or-later
/* Reports: findings with stable codes, levels, evidence and hints; device verdicts. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "iopass-private.h"

struct finding {
	char *code;
	enum iopass_level level;
	enum iopass_effect effect;
	char *message;
	char *hint;
};

struct iopass_report {
	struct finding *f;
	size_t n;
	enum iopass_verdict verdict;
	char **needs;
	size_t nneeds;
	bool oom;
};

struct iopass_report *report_new(void)
{
	return calloc(1, sizeof(struct iopass_report));
}

void report_add(struct iopass_report *r, enum iopass_level level, const char *code,
		const char *fmt, ...)
{
	struct finding *nf;
	va_list ap;
	char *msg;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		r->oom = true;
		return;
	}
	nf = reallocarray(r->f, r->n + 1, sizeof(*r->f));
	if (!nf) {
		free(msg);
		r->oom = true;
		return;
	}
	r->f = nf;
	/* by default a failed requirement blocks unless forced; report_effect() says otherwise */
	r->f[r->n++] = (struct finding){ .code = strdup(code), .level = level, .message = msg,
					 .effect = level == IOPASS_LEVEL_FAIL ? IOPASS_EFFECT_UNLESS_FORCED
									      : IOPASS_EFFECT_INFORMS };
	if (!r->f[r->n - 1].code)
		r->oom = true;
}

void report_effect(struct iopass_report *r, enum iopass_effect effect)
{
	if (r->n)
		r->f[r->n - 1].effect = effect;
}

enum iopass_effect iopass_report_effect(const struct iopass_report *r, size_t i)
{
	return r && i < r->n ? r->f[i].effect : IOPASS_EFFECT_INFORMS;
}

const char *iopass_effect_name(enum iopass_effect effect)
{
	static const char *const names[] = {
		[IOPASS_EFFECT_INFORMS] = "informs",
		[IOPASS_EFFECT_UNLESS_FORCED] = "unless-forced",
		[IOPASS_EFFECT_NOT_VIABLE] = "not-viable",
		[IOPASS_EFFECT_BLOCKS] = "blocks",
	};

	return (size_t)effect < ARRAY_SIZE(names) ? names[effect] : "informs";
}

bool iopass_effect_forceable(enum iopass_effect effect)
{
	return effect == IOPASS_EFFECT_UNLESS_FORCED || effect == IOPASS_EFFECT_NOT_VIABLE;
}

void report_hint(struct iopass_report *r, const char *fmt, ...)
{
	va_list ap;
	char *h;

	if (!r->n)
		return;
	va_start(ap, fmt);
	if (vasprintf(&h, fmt, ap) < 0) {
		r->oom = true;
		h = NULL;
	}
	va_end(ap);
	free(r->f[r->n - 1].hint);
	r->f[r->n - 1].hint = h;
}

void report_need(struct iopass_report *r, const char *bdf)
{
	char **nn;

	for (size_t i = 0; i < r->nneeds; i++)
		if (streq(r->needs[i], bdf))
			return;
	nn = reallocarray(r->needs, r->nneeds + 1, sizeof(*nn));
	if (!nn) {
		r->oom = true;
		return;
	}
	r->needs = nn;
	r->needs[r->nneeds] = strdup(bdf);
	if (!r->needs[r->nneeds])
		r->oom = true;
	else
		r->nneeds++;
}

void report_set_verdict(struct iopass_report *r, enum iopass_verdict v)
{
	r->verdict = v;
}

bool report_oom(const struct iopass_report *r)
{
	return r->oom;
}

size_t iopass_report_count(const struct iopass_report *r)
{
	return r ? r->n : 0;
}

const char *iopass_report_code(const struct iopass_report *r, size_t i)
{
	return i < r->n ? r->f[i].code : NULL;
}

enum iopass_level iopass_report_level(const struct iopass_report *r, size_t i)
{
	return i < r->n ? r->f[i].level : IOPASS_LEVEL_OK;
}

const char *iopass_report_message(const struct iopass_report *r, size_t i)
{
	return i < r->n ? r->f[i].message : NULL;
}

const char *iopass_report_hint(const struct iopass_report *r, size_t i)
{
	return i < r->n ? r->f[i].hint : NULL;
}

enum iopass_level iopass_report_worst(const struct iopass_report *r)
{
	enum iopass_level worst = IOPASS_LEVEL_OK;

	for (size_t i = 0; i < r->n; i++)
		if (r->f[i].level > worst)
			worst = r->f[i].level;
	return worst;
}

enum iopass_verdict iopass_report_verdict(const struct iopass_report *r)
{
	return r->verdict;
}

size_t iopass_report_needs_count(const struct iopass_report *r)
{
	return r->nneeds;
}

const char *iopass_report_needs(const struct iopass_report *r, size_t i)
{
	return i < r->nneeds ? r->needs[i] : NULL;
}

struct iopass_report *iopass_report_free(struct iopass_report *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n; i++) {
		free(r->f[i].code);
		free(r->f[i].message);
		free(r->f[i].hint);
	}
	for (size_t i = 0; i < r->nneeds; i++)
		free(r->needs[i]);
	free(r->needs);
	free(r->f);
	free(r);
	return NULL;
}

const char *iopass_level_name(enum iopass_level level)
{
	static const char *const names[] = { "ok", "info", "warn", "fail" };

	return (unsigned)level < ARRAY_SIZE(names) ? names[level] : "?";
}

const char *iopass_verdict_name(enum iopass_verdict verdict)
{
	static const char *const names[] = { "ready", "needs-group", "unsafe", "impossible" };

	return (unsigned)verdict < ARRAY_SIZE(names) ? names[verdict] : "?";
}

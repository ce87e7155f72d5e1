/*
 * NAME
 *	scoretest - a test-only spam check whose score the message chooses
 * DESCRIPTION
 *	For the rulesets' tests, never installed. The score of a message is
 *	the number in its first "X-Test-Score:" header field (0 without
 *	one); from spam_score on it is spam, from high_spam_score on
 *	high-spam, as spamd's plugin decides. It says it is a spam check
 *	(HS_KIND_SPAM), so the rules' spam thresholds and the allow list
 *	apply to it as to spamd.
 *
 *	It must never read past the header block or fail on any input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "holdscan/plugin.h"

struct scoretest {
	const struct hs_host *host;
	double		 spam, high;
};

static const struct hs_plugin_option scoretest_options[] = {
	{ "spam_score", HS_OPT_STR, "5.0", "from this score on: spam" },
	{ "high_spam_score", HS_OPT_STR, "10.0", "from this score on: high-spam" },
	{ NULL, 0, NULL, NULL },
};

static void
read_options(struct scoretest *t)
{
	t->spam = atof(t->host->opt_str(t->host->host_ctx, "spam_score"));
	t->high = atof(t->host->opt_str(t->host->host_ctx, "high_spam_score"));
}

static int
scoretest_init(const struct hs_host *host, void **ctx_r, const char **error_r)
{
	struct scoretest *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		*error_r = "out of memory";
		return (-1);
	}
	t->host = host;
	read_options(t);
	*ctx_r = t;
	return (0);
}

static int
scoretest_reload(void *ctx, const char **error_r)
{
	(void)error_r;
	read_options(ctx);
	return (0);
}

static int
scoretest_scan(void *ctx, const struct hs_msg *msg, struct hs_result *res)
{
	struct scoretest *t = ctx;
	const char	*p = msg->data, *end = msg->data + msg->header_len;
	char		 num[32];
	size_t		 n;

	res->verdict = HS_CLEAN;
	res->score = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t	 len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (len > 13 && strncasecmp(p, "X-Test-Score:", 13) == 0) {
			n = len - 13 < sizeof(num) - 1 ? len - 13 :
			    sizeof(num) - 1;
			memcpy(num, p + 13, n);
			num[n] = '\0';
			res->score = atof(num);
			break;
		}
		p += len + 1;
	}
	if (res->score >= t->high)
		res->verdict = HS_HIGH_SPAM;
	else if (res->score >= t->spam)
		res->verdict = HS_SPAM;
	(void)snprintf(res->reason, sizeof(res->reason), "score %.1f",
	    res->score);
	return (0);
}

static void
scoretest_fini(void *ctx)
{
	free(ctx);
}

const struct hs_plugin hs_plugin = {
	HS_PLUGIN_HEADER,
	.name = "scoretest",
	.version = "1",
	.options = scoretest_options,
	.init = scoretest_init,
	.reload = scoretest_reload,
	.scan = scoretest_scan,
	.fini = scoretest_fini,
	.kind = HS_KIND_SPAM,
};

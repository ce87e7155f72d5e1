/*
 * NAME
 *	fuzz_config - libFuzzer target for the holdscan.conf loader
 * DESCRIPTION
 *	Feeds arbitrary text through config_load_string(): comment and
 *	empty-value preprocessing, libconfuse's two passes, parameter,
 *	plugin-section and policy validation. A plugin "fake" with a few
 *	typed options stands in for real plugins. Whatever the input, the
 *	loader must return a config or a non-empty error text, never crash,
 *	and a config it returns must print and free cleanly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct hs_plugin_option fake_options[] = {
	{ "path", HS_OPT_PATH, "/tmp", "a path" },
	{ "size", HS_OPT_SIZE, "1M", "a size" },
	{ "time", HS_OPT_TIME, "1s", "a time" },
	{ "flag", HS_OPT_BOOL, "no", "a flag" },
	{ "count", HS_OPT_INT, "3", "a count" },
	{ "words", HS_OPT_LIST, "a b", "a list" },
	{ NULL, 0, NULL, NULL },
};

static const struct hs_plugin_option *
fake_probe(void *arg, const char *dir, const char *name, char **error_r)
{
	(void)arg;
	(void)dir;
	if (strcmp(name, "fake") == 0)
		return (fake_options);
	*error_r = strdup("no such plugin");
	return (NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hs_config *conf = NULL;
	char		*text, *errors = NULL;
	FILE		*null;

	if (size > 65536)
		return (0);
	if ((text = malloc(size + 1)) == NULL)
		return (0);
	memcpy(text, data, size);
	text[size] = '\0';
	if (config_load_string(text, "fuzz.conf", fake_probe, NULL, &conf,
	    &errors) == 0) {
		if (conf == NULL)
			abort();
		if ((null = fopen("/dev/null", "w")) != NULL) {
			config_print(conf, null, false);
			config_print(conf, null, true);
			fclose(null);
		}
		config_free(&conf);
	} else {
		if (conf != NULL || errors == NULL || errors[0] == '\0')
			abort();
		free(errors);
	}
	free(text);
	return (0);
}

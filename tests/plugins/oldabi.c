/*
 * NAME
 *	oldabi - a test plugin built for plugin ABI version 1
 * DESCRIPTION
 *	Declares itself as a plugin of the first ABI, which linked
 *	holdscan's own code and had no MIME walk in struct hs_host. The
 *	scanner program must refuse it before calling anything in it, with
 *	a message that names version 1 and the version it expects. Its init
 *	would say so if it were ever called.
 *
 *	Built with the test plugins, never installed.
 */
#include <stdio.h>

#include "holdscan/plugin.h"

static int
oldabi_init(const struct hs_host *host, void **ctx_r, const char **error_r)
{
	(void)host;
	*ctx_r = NULL;
	*error_r = "oldabi: init was called although the ABI version differs";
	return (-1);
}

static int
oldabi_scan(void *ctx, const struct hs_msg *msg, struct hs_result *res)
{
	(void)ctx;
	(void)msg;
	res->verdict = HS_FAILED;
	(void)snprintf(res->reason, sizeof(res->reason), "oldabi scanned");
	return (0);
}

const struct hs_plugin hs_plugin = {
	.abi_version = 1,		/* what an old build of a plugin says */
	.struct_size = sizeof(struct hs_plugin),
	.name = "oldabi",
	.version = "1",
	.init = oldabi_init,
	.scan = oldabi_scan,
};

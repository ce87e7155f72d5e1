/*
 * NAME
 *	cmd_web - holdscan web user add|del|passwd|list: the web console's
 *	accounts
 * DESCRIPTION
 *	Changes web { accounts_file } (web/accounts.c: yescrypt hashes,
 *	written atomically, mode 0640, group web { user }'s so that
 *	holdscan-web can read it and nobody else). holdscan-web sees a
 *	change at its next request; a deleted account's sessions end then.
 *	A password is read from the standard input: twice without echo on a
 *	terminal, else its first line. Each change is an audit line.
 *
 *	This file must never print, log or keep a password, and never
 *	write the file as anyone but the one who runs it (root, normally).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "common/access.h"
#include "common/xalloc.h"
#include "tool/tool.h"
#include "web/accounts.h"

static int
read_line(const char *prompt, char *buf, size_t size, bool tty)
{
	struct termios	 old, quiet;
	size_t		 len;
	bool		 ok;

	if (tty) {
		(void)fprintf(stderr, "%s", prompt);
		if (tcgetattr(STDIN_FILENO, &old) < 0)
			return (-1);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	ok = fgets(buf, (int)size, stdin) != NULL;
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		(void)fputc('\n', stderr);
	}
	if (!ok)
		return (-1);
	len = strcspn(buf, "\r\n");
	if (buf[len] == '\0' && len == size - 1)
		return (-1);	/* too long */
	buf[len] = '\0';
	return (0);
}

/* The new password's hash, or NULL (said why). */
static char *
new_hash(void)
{
	char	 a[ACCOUNTS_PASSWORD_MAX + 2], b[sizeof(a)], *hash, *error = NULL;
	bool	 tty = isatty(STDIN_FILENO) == 1;

	if (read_line("password: ", a, sizeof(a), tty) < 0) {
		(void)tool_fail("no password on the standard input");
		return (NULL);
	}
	if (tty && (read_line("again: ", b, sizeof(b), tty) < 0 ||
	    strcmp(a, b) != 0)) {
		sodium_memzero(a, sizeof(a));
		sodium_memzero(b, sizeof(b));
		(void)tool_fail("the passwords differ");
		return (NULL);
	}
	hash = accounts_hash(a, &error);
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
	if (hash == NULL) {
		(void)tool_fail("%s", error);
		free(error);
	}
	return (hash);
}

static int
save(struct tool *t, const struct accounts *a)
{
	struct passwd	*pw = getpwnam(t->conf->web_user);
	char		*error = NULL;

	if (accounts_save(a, t->conf->web_accounts_file, pw != NULL &&
	    geteuid() == 0 ? pw->pw_gid : (gid_t)-1, &error) < 0) {
		(void)tool_fail("%s", error);
		free(error);
		return (-1);
	}
	return (0);
}

static void
usage_web(const struct tool *t)
{
	tool_bad_usage(t, "use add, del, passwd or list");
}

int
cmd_web_user(struct tool *t, int argc, char **argv)
{
	struct accounts	*a = NULL;
	struct account	 ac;
	const struct account *old;
	const char	*verb, *name = NULL, *v, *why;
	char		*error = NULL;
	int		 i, role = -1, rc = 0;
	size_t		 j;

	if (argc < 2)
		usage_web(t);
	verb = argv[1];
	memset(&ac, 0, sizeof(ac));
	if (strcmp(verb, "list") != 0) {
		if (argc < 3 || argv[2][0] == '-')
			tool_bad_usage(t, "%s: which account?", verb);
		name = argv[2];
		if ((why = accounts_check_name(name)) != NULL)
			tool_bad_usage(t, "%s: %s", name, why);
	} else if (argc > 2)
		tool_bad_arg(t, argv[2]);
	for (i = 3; i < argc; i++) {
		if (strcmp(verb, "add") != 0)
			tool_bad_arg(t, argv[i]);
		if ((v = tool_opt_value(t, argc, argv, &i, "--role")) != NULL) {
			if ((role = access_role_parse(v)) < 0)
				tool_bad_usage(t, "--role: use admin, domain or "
				    "user");
		} else if ((v = tool_opt_value(t, argc, argv, &i,
		    "--domain")) != NULL) {
			if ((why = access_check_domain(v)) != NULL)
				tool_bad_usage(t, "--domain %s: %s", v, why);
			access_add_domain(&ac.scope, v);
		} else if ((v = tool_opt_value(t, argc, argv, &i,
		    "--address")) != NULL) {
			if ((why = access_check_address(v)) != NULL)
				tool_bad_usage(t, "--address %s: %s", v, why);
			access_add_address(&ac.scope, v);
		} else
			tool_bad_arg(t, argv[i]);
	}
	if (strcmp(verb, "add") == 0) {
		if (role < 0)
			tool_bad_usage(t, "add: --role admin|domain|user");
		if (role == ACCESS_DOMAIN && ac.scope.ndomains == 0)
			tool_bad_usage(t, "add: a domain admin needs --domain");
		if (role == ACCESS_USER && ac.scope.naddresses == 0)
			tool_bad_usage(t, "add: a user needs --address");
	} else if (strcmp(verb, "del") != 0 && strcmp(verb, "passwd") != 0 &&
	    strcmp(verb, "list") != 0)
		usage_web(t);

	if (accounts_load(t->conf->web_accounts_file, true, &a, &error) < 0) {
		rc = tool_fail("%s", error);
		free(error);
		goto done;
	}
	if (strcmp(verb, "list") == 0) {
		for (j = 0; j < a->n; j++) {
			const struct account *x = &a->v[j];
			size_t	 k;

			(void)printf("%s %s", x->name,
			    access_role_name(x->scope.role));
			for (k = 0; k < x->scope.ndomains; k++)
				(void)printf(" domain=%s", x->scope.domains[k]);
			for (k = 0; k < x->scope.naddresses; k++)
				(void)printf(" address=%s",
				    x->scope.addresses[k]);
			(void)printf("\n");
		}
		goto done;
	}
	old = accounts_find(a, name);
	if (strcmp(verb, "del") == 0) {
		if (accounts_del(a, name) < 0) {
			rc = tool_fail("%s: no such account", name);
			goto done;
		}
		if (save(t, a) < 0)
			rc = 1;
		else {
			tool_audit(t, "web user del %s", name);
			(void)printf("%s: deleted\n", name);
		}
		goto done;
	}
	if (strcmp(verb, "passwd") == 0 && old == NULL) {
		rc = tool_fail("%s: no such account", name);
		goto done;
	}
	if (strcmp(verb, "add") == 0 && old != NULL) {
		rc = tool_fail("%s: exists already (passwd changes its "
		    "password; del, then add, its role)", name);
		goto done;
	}
	if ((ac.hash = new_hash()) == NULL) {
		rc = 1;
		goto done;
	}
	if (strcmp(verb, "passwd") == 0) {
		/* Keep the role and scope; only the hash changes. */
		ac.scope.role = old->scope.role;
		for (j = 0; j < old->scope.ndomains; j++)
			access_add_domain(&ac.scope, old->scope.domains[j]);
		for (j = 0; j < old->scope.naddresses; j++)
			access_add_address(&ac.scope, old->scope.addresses[j]);
	} else
		ac.scope.role = (enum access_role)role;
	ac.name = xstrdup(name);
	accounts_put(a, &ac);
	if (save(t, a) < 0)
		rc = 1;
	else {
		tool_audit(t, "web user %s %s", verb, name);
		(void)printf("%s: %s\n", name, strcmp(verb, "add") == 0 ?
		    "added" : "password changed");
	}
done:
	free(ac.name);
	free(ac.hash);
	access_scope_clear(&ac.scope);
	accounts_free(&a);
	return (rc);
}

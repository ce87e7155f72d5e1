/*
 * NAME
 *	replay_main - run a libFuzzer target over files without libFuzzer
 * DESCRIPTION
 *	make check links every fuzz target with this driver (in the ASan
 *	flavour) and feeds it each file of the target's corpus once, so
 *	that every past finding stays a regression test. Arguments are
 *	files or directories (one level). It must never skip a file
 *	silently: an unreadable file fails the run.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path)
{
	FILE	*fp;
	uint8_t	*data = NULL;
	size_t	 len = 0, cap = 0, n;

	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return (-1);
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if ((data = realloc(data, cap)) == NULL) {
				fprintf(stderr, "replay: out of memory\n");
				fclose(fp);
				return (-1);
			}
		}
		n = fread(data + len, 1, cap - len, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		fclose(fp);
		free(data);
		return (-1);
	}
	fclose(fp);
	(void)LLVMFuzzerTestOneInput(data, len);
	free(data);
	return (0);
}

int
main(int argc, char **argv)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*dir;
	char		 path[4096];
	int		 i, count = 0, rc = 0;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return (1);
		}
		if (!S_ISDIR(st.st_mode)) {
			rc |= replay_file(argv[i]);
			count++;
			continue;
		}
		if ((dir = opendir(argv[i])) == NULL) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return (1);
		}
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if ((size_t)snprintf(path, sizeof(path), "%s/%s", argv[i],
			    de->d_name) >= sizeof(path)) {
				fprintf(stderr, "replay: path too long\n");
				rc = -1;
				continue;
			}
			rc |= replay_file(path);
			count++;
		}
		closedir(dir);
	}
	printf("replayed %d inputs\n", count);
	return (rc ? 1 : 0);
}

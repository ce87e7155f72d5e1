/*
 * regions.h - where the state environment's shared memory lives.
 *
 * Berkeley DB keeps an environment's shared memory (locks, log buffer,
 * cache) in region files, __db.001 ... in the environment's home, which
 * every opener maps shared. On a disk the kernel writes their dirty
 * pages back like any file's, and each batch's syncfs(2) waits for them.
 * With a region directory on a memory file system (tmpfs), a region is
 * made there and the home holds a symbolic link to it, the anchor:
 * Berkeley DB and every opener still find it by its usual name, and
 * removing the environment removes the anchors as before.
 *
 * regions_new() says where dir's regions are made: in region_dir, in a
 * directory of dir's own (device and inode), when region_dir is set and
 * usable, else in dir as before. Never fails for want of region_dir.
 * regions_survey() tells what dir's anchors say: REGIONS_OK, or
 * REGIONS_LOST (an anchor whose region is gone: a reboot emptied the
 * memory file system), or REGIONS_MOVABLE (regions are files in dir
 * though a region directory is usable).
 * regions_discard() removes dir's region names (anchors and files);
 * only with no process in the environment (the registry says).
 * regions_map() / regions_unmap() are Berkeley DB's region map
 * functions (db_env_set_func_region_map()) for r.
 * regions_collect() removes regions of dir's that no anchor names any
 * more (the environment was removed: recovery made it anew).
 */
#ifndef HS_REGIONS_H
#define HS_REGIONS_H

#include <stddef.h>

#include <db.h>

struct regions;

enum regions_state {
	REGIONS_OK,
	REGIONS_LOST,
	REGIONS_MOVABLE
};

struct regions	*regions_new(const char *dir, const char *region_dir);
void		 regions_free(struct regions **r);
const char	*regions_where(const struct regions *r);
enum regions_state regions_survey(const struct regions *r);
int		 regions_discard(const struct regions *r);
int		 regions_map(struct regions *r, DB_ENV *env, char *path,
		    size_t len, int *created, void **addr_r);
int		 regions_unmap(void *addr);
void		 regions_collect(const struct regions *r);

#endif

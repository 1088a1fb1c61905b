#include "config.h"

#include <string.h>

#include "linkpath.h"

/* Components of the link's directory: those of link but its last. */
static long
dir_depth(const char *link)
{
	long	 n = 0;

	for (const char *p = link; *p; p++)
		if (*p == '/')
			n++;
	return n;
}

bool
ftpa_link_target_inside(const char *link, const char *target)
{
	long		 depth = dir_depth(link);
	size_t		 len = strlen(target), n;
	const char	*p = target, *slash;

	if (len == 0 || len > FTPA_LINK_TARGET_MAX || target[0] == '/')
		return false;
	for (const unsigned char *c = (const unsigned char *)target; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	while (*p != '\0') {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return false;
		} else if (n > 0 && !(n == 1 && p[0] == '.'))
			depth++;
		p += n + (slash != NULL);
	}
	return true;
}

const char *
ftpa_tree_name_unsafe(const char *name)
{
	size_t	len = strlen(name);

	if (len == 0)
		return "an empty name";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "a name that means a directory itself or its parent";
	if (len > FTPA_TREE_NAME_MAX)
		return "a name too long";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p == '/')
			return "a name holding \"/\"";
		if (*p < 0x20 || *p == 0x7f)
			return "a name holding a control character";
	}
	return NULL;
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libkmod, loaded on first use. It brings libcrypto, libzstd and liblzma
 * along, and loading and relocating those cost about 2.5 ms at every start of
 * iopass, more than a whole completion query may take on a big host. Only
 * check (module states) and attach (loading vfio-pci) need libkmod, so it is
 * opened there, the way systemd opens it (dlopen_libkmod()). Not thread-safe
 * on the first call; the library is used from one thread.
 */
#include <dlfcn.h>
#include <errno.h>

#include "iopass-private.h"

typeof(kmod_new) *sym_kmod_new;
typeof(kmod_unref) *sym_kmod_unref;
typeof(kmod_set_log_priority) *sym_kmod_set_log_priority;
typeof(kmod_validate_resources) *sym_kmod_validate_resources;
typeof(kmod_list_next) *sym_kmod_list_next;
typeof(kmod_module_new_from_lookup) *sym_kmod_module_new_from_lookup;
typeof(kmod_module_get_module) *sym_kmod_module_get_module;
typeof(kmod_module_get_path) *sym_kmod_module_get_path;
typeof(kmod_module_probe_insert_module) *sym_kmod_module_probe_insert_module;
typeof(kmod_module_unref) *sym_kmod_module_unref;
typeof(kmod_module_unref_list) *sym_kmod_module_unref_list;

int kmod_dl_open(void)
{
	static int state; /* 0: not tried; 1: loaded; < 0: -errno of the failure */
	void *h;

	if (state)
		return state < 0 ? state : 0;
	state = -ENOPKG;
	h = dlopen("libkmod.so.2", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!h)
		return state;
#define SYM(name)                                                                              \
	do {                                                                                   \
		*(void **)&sym_##name = dlsym(h, #name);                                       \
		if (!sym_##name)                                                               \
			goto fail;                                                             \
	} while (0)
	SYM(kmod_new);
	SYM(kmod_unref);
	SYM(kmod_set_log_priority);
	SYM(kmod_validate_resources);
	SYM(kmod_list_next);
	SYM(kmod_module_new_from_lookup);
	SYM(kmod_module_get_module);
	SYM(kmod_module_get_path);
	SYM(kmod_module_probe_insert_module);
	SYM(kmod_module_unref);
	SYM(kmod_module_unref_list);
#undef SYM
	state = 1;
	return 0;
fail:
	dlclose(h);
	return state;
}

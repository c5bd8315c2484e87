/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers for the cmocka tests: run the iopass binary, build shared fixture hosts. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"

struct run {
	int status; /* exit status, or 128 + signal */
	char *out;
	char *err;
};

/*
 * Run the built iopass with --sysroot ROOT (unless root is NULL) and the test
 * pci.ids, argv NULL-terminated. Stdout and stderr are captured whole.
 */
void run_iopass(struct run *r, const char *root, const char *const argv[]);
/* The same with extra environment ("NAME=value", NULL-terminated). */
void run_iopass_env(struct run *r, const char *root, const char *const env[],
		    const char *const argv[]);
/* The same with stdout on stdout_fd (r->out stays NULL), SIGPIPE ignored or not. */
void run_iopass_stdout(struct run *r, const char *root, int stdout_fd, bool ignore_sigpipe,
		       const char *const argv[]);
void run_free(struct run *r);
#define RUN(r, root, ...) run_iopass((r), (root), (const char *const[]){ __VA_ARGS__, NULL })

/* Assert two strings are equal, printing both in full when they are not. */
#define assert_text_equal(actual, expected) _assert_text_equal((actual), (expected), __FILE__, __LINE__)
void _assert_text_equal(const char *actual, const char *expected, const char *file, int line);

/* The driver bound to bdf in the tree ("" when unbound). */
const char *fx_driver(struct fx *fx, const char *bdf, char *buf, size_t size);
/* A file's text below the root with trailing newlines cut, or NULL when absent. */
char *fx_read(struct fx *fx, const char *path);
bool fx_exists(struct fx *fx, const char *path);

/* Number of lines in s. */
size_t count_lines(const char *s);

/*
 * A workstation with an IOMMU: a GPU with its audio function behind a root
 * port, an NVMe behind another, a ConnectX-5 PF with two VFs (one on
 * vfio-pci), a USB controller and the host bridge.
 */
struct fx *fx_workstation(void);

/* ---- runs against the simulated kernel (simkernel.c) ---- */

struct sim {
	struct fx *fx;
	char log[64];
	const char *env[12];
	char env_root[4200], env_log[128], env_fail[256], env_kill[64], env_delay[64];
	char env_extra[64]; /* one more NAME=value, "" for none */
};

void sim_open(struct sim *s, struct fx *fx);
void sim_close(struct sim *s);
/* Run iopass with the simulated kernel; fail/kill/delay as set in s. */
void sim_run(struct sim *s, struct run *r, const char *const argv[]);
#define SIM(s, r, ...) sim_run((s), (r), (const char *const[]){ __VA_ARGS__, NULL })
/* The kernel writes so far, one line each ("" when none). */
char *sim_log(struct sim *s);
void sim_log_reset(struct sim *s);
#define assert_driver(s, bdf, expected)                                                       \
	do {                                                                                   \
		char b_[128];                                                                  \
		assert_string_equal(fx_driver((s)->fx, (bdf), b_, sizeof(b_)), (expected));    \
	} while (0)

/* path's text below the root is expected (NULL: the file is absent). */
void assert_file(struct sim *s, const char *path, const char *expected);
/*
 * The vfio_pci aliases of the kernel's variant drivers, as depmod writes them
 * into lib/modules/RELEASE/modules.alias (file2alias of each driver's
 * PCI_DRIVER_OVERRIDE_DEVICE_VFIO table: mlx5_vfio_pci, hisi_acc_vfio_pci,
 * pds_vfio_pci, virtio_vfio_pci, qat_vfio_pci, nvgrace_gpu_vfio_pci, then
 * vfio_pci's catch-all), among other modules' aliases, for release (NULL: the
 * workstation's 6.1.0-28-amd64). extra: more lines, or NULL.
 */
void fx_modules_alias(struct fx *fx, const char *release, const char *extra);
/* A ConnectX-6 Dx (15b3:101d, mlx5_core) at 0000:06:00.0 with VFs 06:00.1 and 06:00.2 (15b3:101e, unbound), groups 20-22. */
void fx_add_cx6dx(struct fx *fx);

/* The workstation with the GPU as a secondary card (not the boot VGA). */
struct fx *fx_secondary_gpu(void);

/*
 * For every device of the tree at root: what iopass_check_dev() says of it on
 * the related scan (iopass_scan_related) of the device, of its group and of
 * its PF is what it says on the full scan, with the device alone, its group's
 * endpoints and its PF's VFs as the set. Returns the number of checks compared;
 * *ret_max_related (unless NULL) gets the most devices a one-device scan read.
 */
size_t assert_related_scan_agrees(const char *root, size_t *ret_max_related);

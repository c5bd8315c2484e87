/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libiopass: the engine behind iopass(8).
 *
 * Every function that can fail returns 0 (or a non-negative value) on success
 * and a negative errno on failure. The library never prints and never exits;
 * problems with odd sysfs entries are reported through iopass_dev_get_warning()
 * and the context's log function.
 *
 * All file access goes through the context's root prefix (sysroot), so the
 * whole library can run against a fixture tree.
 *
 * What it is: an internal library. It is built as a CMake OBJECT library and
 * linked into the iopass binary and the tests; nothing of it is installed, and
 * this header makes no ABI or API promise to anyone outside this tree. The
 * door is kept open: the public names all start with iopass_ and the handles
 * are opaque, so that a shared library with a version script could be cut from
 * it once a consumer exists. Helpers that lib/, cli/ and tests/ share (cleanup
 * attributes, streq) live in shared/macro.h, not here.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iopass_ctx;
struct iopass_dev;
struct iopass_devlist;

/* ---- context ---------------------------------------------------------- */

enum iopass_log_prio {
	IOPASS_LOG_ERR = 3,
	IOPASS_LOG_WARNING = 4,
	IOPASS_LOG_INFO = 6,
	IOPASS_LOG_DEBUG = 7,
};

typedef void (*iopass_log_fn)(void *data, int prio, const char *fmt, va_list ap);

/* sysroot NULL or "" means "/". Fails with -ENOENT/-ENOTDIR if it is not a directory. */
/* -ENOMEDIUM: sysroot (other than /) has no sys/ directory. */
int iopass_ctx_new(const char *sysroot, struct iopass_ctx **ret_ctx);
struct iopass_ctx *iopass_ctx_free(struct iopass_ctx *ctx); /* NULL-safe, returns NULL */
const char *iopass_ctx_get_sysroot(const struct iopass_ctx *ctx);
void iopass_ctx_set_log_fn(struct iopass_ctx *ctx, iopass_log_fn fn, void *data);
void iopass_ctx_set_log_priority(struct iopass_ctx *ctx, int prio);
/* Use this pci.ids file for names instead of libpci's default (and skip udev's hwdb);
 * -EINVAL when it is not a regular file. */
int iopass_ctx_set_ids_file(struct iopass_ctx *ctx, const char *path);

/* ---- addresses and selectors ------------------------------------------ */

struct iopass_addr {
	uint32_t domain; /* 0..0xffff, or up to 0xffffffff for VMD-style domains */
	uint8_t bus;
	uint8_t slot;    /* 0..31 */
	uint8_t func;    /* 0..7 */
};

#define IOPASS_BDF_MAX 20 /* "ffffffff:ff:1f.7" + NUL, rounded up */

/* Strict: "DDDD:BB:SS.F" or "BB:SS.F" (domain 0000), hex, nothing else. -EINVAL otherwise. */
int iopass_addr_parse(const char *s, struct iopass_addr *ret_addr);
/* A slot, "DDDD:BB:SS" or "BB:SS" (every function of a card): its function 0; -EINVAL. */
int iopass_slot_parse(const char *s, struct iopass_addr *ret_addr);
/* Canonical lower-case form, as the kernel names devices in sysfs. */
void iopass_addr_format(const struct iopass_addr *addr, char buf[IOPASS_BDF_MAX]);
int iopass_addr_cmp(const struct iopass_addr *a, const struct iopass_addr *b);

/* "vvvv:dddd" (exactly four hex digits each). -EINVAL otherwise. */
int iopass_id_parse(const char *s, uint16_t *ret_vendor, uint16_t *ret_device);

/*
 * Class selector: a name (net, storage, display, gpu, audio, usb, bridge, ...)
 * or a hex prefix of the 24-bit class code ("02", "0200", "0c0330").
 * Fills value/mask so that (class & mask) == value matches.
 */
int iopass_class_parse(const char *s, uint32_t *ret_value, uint32_t *ret_mask);
/* The most specific selector name for a class code ("nvme", "usb", "net"), or NULL. */
const char *iopass_class_short_name(uint32_t class);
/* The selector names, NULL-terminated, for help and completion. */
const char *const *iopass_class_names(void);

/* A kernel driver name: one path component of printable ASCII, at most 64 bytes. */
bool iopass_driver_name_valid(const char *name);
/*
 * A reset_method value: the kernel's method names (device_specific, acpi,
 * flr, af_flr, pm, bus, cxl_bus), separated by blanks or commas, each once, at
 * least one. Into buf, blank-separated as the kernel reads and shows it: 0,
 * or -EINVAL, -ENOBUFS.
 */
int iopass_reset_methods_parse(const char *s, char *buf, size_t size);

/* A group number: decimal, 0..INT_MAX, no sign, no leading garbage. */
int iopass_group_parse(const char *s, int *ret_group);

/* ---- devices ------------------------------------------------------------ */

/* All PCI functions under <sysroot>/sys/bus/pci/devices, sorted by address. */
int iopass_scan(struct iopass_ctx *ctx, struct iopass_devlist **ret_list);
/*
 * The devices a change of some of them touches, and no others: the seeds, the
 * members of their IOMMU groups and of the groups given, their VFs and PF,
 * and for each of those what its checks read (its group, the functions on its
 * bus, the bridges above it, its VFs and PF). What iopass_check_dev() says of
 * any of them is what it says on a full scan, at a cost that does not grow
 * with the host. Seeds not on the bus are left out.
 */
int iopass_scan_related(struct iopass_ctx *ctx, const struct iopass_addr *seeds, size_t nseeds,
			const int *groups, size_t ngroups, struct iopass_devlist **ret_list);
/*
 * Quick scans for the shell completions, whose cost does not grow with what
 * each device has: drivers come from the listings of the drivers'
 * directories, bridges from those of pcieport and /sys/class/pci_bus (an
 * unbound bridge without a bus below it counts as an endpoint; without that
 * directory the class of each unbound device is read), and with
 * IOPASS_SCAN_GROUPS one readlink a candidate finds its IOMMU group. The
 * devices carry their address, driver, vfio flag and, when asked for, group;
 * IDs, class, SR-IOV and boot VGA read as absent.
 */
enum iopass_candidates {
	IOPASS_CANDIDATES_ATTACH = 1, /* endpoints not on a vfio driver */
	IOPASS_CANDIDATES_DETACH,     /* devices on a vfio driver */
};
#define IOPASS_SCAN_GROUPS (1u << 0)
int iopass_scan_candidates(struct iopass_ctx *ctx, enum iopass_candidates which, unsigned flags,
			   struct iopass_devlist **ret_list);
size_t iopass_devlist_count(const struct iopass_devlist *list);
struct iopass_dev *iopass_devlist_get(const struct iopass_devlist *list, size_t i);
struct iopass_dev *iopass_devlist_find(const struct iopass_devlist *list,
				       const struct iopass_addr *addr);
struct iopass_devlist *iopass_devlist_free(struct iopass_devlist *list); /* NULL-safe */

const char *iopass_dev_get_bdf(const struct iopass_dev *dev);
const struct iopass_addr *iopass_dev_get_addr(const struct iopass_dev *dev);
/* IDs and class: the value (>= 0), or -ENODATA when it could not be read. */
int iopass_dev_get_vendor(const struct iopass_dev *dev);
int iopass_dev_get_device(const struct iopass_dev *dev);
int iopass_dev_get_subsystem_vendor(const struct iopass_dev *dev);
int iopass_dev_get_subsystem_device(const struct iopass_dev *dev);
int iopass_dev_get_class(const struct iopass_dev *dev); /* 24-bit class code */
/* Driver bound now, or NULL when unbound. */
const char *iopass_dev_get_driver(const struct iopass_dev *dev);
/* IOMMU group number, or -ENOENT when the device has none. */
int iopass_dev_get_iommu_group(const struct iopass_dev *dev);
/* SR-IOV: PF address of a VF (NULL otherwise); VF counts of a PF (-ENOENT otherwise). */
const char *iopass_dev_get_physfn(const struct iopass_dev *dev);
int iopass_dev_get_sriov_numvfs(const struct iopass_dev *dev);
int iopass_dev_get_sriov_totalvfs(const struct iopass_dev *dev);
bool iopass_dev_is_bridge(const struct iopass_dev *dev);
bool iopass_dev_is_boot_vga(const struct iopass_dev *dev);
/* Bound to vfio-pci or a vfio variant driver (vfio-dev/ present). */
bool iopass_dev_is_vfio(const struct iopass_dev *dev);
/* One line describing what could not be read, or NULL when all was fine. */
const char *iopass_dev_get_warning(const struct iopass_dev *dev);

/* Names from pci.ids (libpci). NULL when the ID is unknown or could not be read. */
const char *iopass_dev_get_vendor_name(struct iopass_dev *dev);
const char *iopass_dev_get_device_name(struct iopass_dev *dev);
const char *iopass_dev_get_class_name(struct iopass_dev *dev);

/* The upstream bridge (the parent in the sysfs device tree), or NULL on a root bus. */
struct iopass_dev *iopass_dev_get_parent(struct iopass_dev *dev, const struct iopass_devlist *list);
/* Header type 0 (an endpoint), from config space. */
bool iopass_dev_is_endpoint(const struct iopass_dev *dev);
/*
 * The PCI functions a device link ties to dev, read now from its directory
 * (the driver core's "supplier:pci:BDF" and "consumer:pci:BDF" entries): the
 * kernel links a GPU's HDA, USB and UCSI functions to its display function.
 * All of them, in address order, into *ret (free() it); -errno when the
 * directory cannot be read.
 */
struct iopass_link {
	struct iopass_addr addr;
	bool consumer; /* it needs dev; else dev needs it (dev is its consumer) */
};
int iopass_dev_links(const struct iopass_dev *dev, struct iopass_link **ret, size_t *ret_n);

/*
 * The vfio driver for dev: the module whose "vfio_pci:" alias in the running
 * kernel's modules.alias matches the device's modalias with the fewest
 * wildcards (libvirt's rule; vfio_pci's catch-all has the most), or
 * vfio-pci when no variant's alias matches. With want (a driver name): the
 * most specific alias of want's module that matches: 0, or -ENOENT when want
 * does not claim dev, -ESRCH when no vfio_pci alias names a driver called
 * want at all, -ENODATA when that cannot be told (no modules.alias, IDs
 * unreadable). vfio-pci claims every device. The kernel binds whatever
 * driver driver_override names (pci_match_device() falls back to
 * pci_device_id_any), so this is the only check that a variant fits.
 * -ENOMEM, -EINVAL otherwise.
 */
struct iopass_vfio_choice {
	char driver[72];   /* the driver's name: "vfio-pci", "mlx5_vfio_pci", ... */
	char module[72];   /* its module, "" when no alias matched */
	char alias[160];   /* the pattern that matched, "" when none */
	int wildcards;     /* in alias; -1 when none */
	char release[128]; /* the kernel whose modules.alias was read, "" when unknown */
	int index_error;   /* 0, or why modules.alias could not be read (-ENOENT: none) */
	bool ids_unread;   /* the device's IDs or class could not be read: nothing matched */
};
int iopass_dev_vfio_driver(const struct iopass_dev *dev, const char *want,
			   struct iopass_vfio_choice *ret);

/* The loaded PCI drivers (<sysroot>/sys/bus/pci/drivers), NULL-terminated; free with free(). */
int iopass_drivers(struct iopass_ctx *ctx, char ***ret_names);

/* ---- IOMMU -------------------------------------------------------------- */

/* Number of IOMMU groups in <sysroot>/sys/kernel/iommu_groups (0: no IOMMU enabled). */
int iopass_iommu_group_count(struct iopass_ctx *ctx);

/* ---- checks ------------------------------------------------------------- */

/*
 * A report is a list of findings, each with a stable machine code
 * ("no-interrupt-remapping"), a level, a message with the evidence and a hint
 * that says what to do. Device reports also carry a verdict.
 */
struct iopass_report;

enum iopass_level {
	IOPASS_LEVEL_OK,    /* host: requirement met */
	IOPASS_LEVEL_INFO,  /* worth knowing, changes nothing */
	IOPASS_LEVEL_WARN,  /* works, with a caveat */
	IOPASS_LEVEL_FAIL,  /* host: requirement not met; device: blocks the verdict */
};

enum iopass_verdict {
	IOPASS_READY,       /* can be attached now */
	IOPASS_NEEDS_GROUP, /* can be attached together with the listed group members */
	IOPASS_UNSAFE,      /* attaching would take something the host uses */
	IOPASS_IMPOSSIBLE,  /* cannot be passed through at all (no IOMMU, not an endpoint) */
};

/*
 * What a device finding does to attach (and to emit's warnings), decided where
 * the finding is made: the one policy table the guards and the output read.
 */
enum iopass_effect {
	IOPASS_EFFECT_INFORMS,       /* changes nothing */
	IOPASS_EFFECT_UNLESS_FORCED, /* blocks attach unless --force: the host uses something */
	IOPASS_EFFECT_NOT_VIABLE,    /* blocks attach unless --force; VFIO will not open the group */
	IOPASS_EFFECT_BLOCKS,        /* blocks attach even forced: it cannot be passed through */
};

const char *iopass_level_name(enum iopass_level level);     /* "ok", "info", "warn", "fail" */
/* "informs", "unless-forced", "not-viable", "blocks" */
const char *iopass_effect_name(enum iopass_effect effect);
/* --force overrides it (unless-forced, not-viable): the one rule guards and output share */
bool iopass_effect_forceable(enum iopass_effect effect);
const char *iopass_verdict_name(enum iopass_verdict verdict); /* "ready", "needs-group", ... */

/*
 * Host-wide tables (routes, mounts, swaps, block devices) are read once per
 * context: use a new context to see changes made after the first check.
 */

/* Host readiness: IOMMU, interrupt remapping, vfio modules, ACS override. */
int iopass_check_host(struct iopass_ctx *ctx, struct iopass_report **ret_report);

/*
 * Can dev be passed through, as part of the set of devices the caller means
 * to attach together (set may be NULL: dev alone)? Group members outside the
 * set that would keep the group from being viable are listed as "needs".
 */
int iopass_check_dev(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		     struct iopass_dev *dev, struct iopass_dev *const *set, size_t nset,
		     struct iopass_report **ret_report);

size_t iopass_report_count(const struct iopass_report *r);
const char *iopass_report_code(const struct iopass_report *r, size_t i);
enum iopass_level iopass_report_level(const struct iopass_report *r, size_t i);
enum iopass_effect iopass_report_effect(const struct iopass_report *r, size_t i);
const char *iopass_report_message(const struct iopass_report *r, size_t i);
const char *iopass_report_hint(const struct iopass_report *r, size_t i); /* NULL: none */
/* The worst level of all findings. */
enum iopass_level iopass_report_worst(const struct iopass_report *r);
enum iopass_verdict iopass_report_verdict(const struct iopass_report *r);
size_t iopass_report_needs_count(const struct iopass_report *r);
const char *iopass_report_needs(const struct iopass_report *r, size_t i);
struct iopass_report *iopass_report_free(struct iopass_report *r); /* NULL-safe */

/* ---- attach and detach --------------------------------------------------- */

enum {
	IOPASS_BIND_FORCE = 1 << 0,   /* override the guards (device in use, group not viable, VM running) */
	IOPASS_BIND_DRY_RUN = 1 << 1, /* plan only: no write at all, no lock, no state */
	IOPASS_VF_ATTACH = 1 << 2,    /* vf create: attach the new VFs to vfio-pci */
	/* roll back an interrupted run even where its guards refuse (the user's --force) */
	IOPASS_BIND_FORCE_RECOVERY = 1 << 3,
	/* attach: a device on any vfio driver already stays there (the driver was not named) */
	IOPASS_BIND_KEEP_VFIO = 1 << 4,
};

/* What a transaction did (or, dry-run, would do). */
struct iopass_txn;

/* How long a writing call waits for another iopass to finish (default 30 s). */
void iopass_ctx_set_lock_timeout(struct iopass_ctx *ctx, int milliseconds);

/*
 * Bind devs to driver (NULL: "vfio-pci") with the kernel's sequence:
 * driver_override, unbind, drivers_probe, verify; with reset (reset method
 * names, as iopass_reset_methods_parse() takes them), write reset_method
 * first and read it back. The reset methods a device had are journaled and
 * recorded, and detach gives them back. All or nothing: on a
 * failure every device changed goes back to its driver. Devices already on
 * the driver are left alone. The original drivers are recorded under
 * <sysroot>/run/iopass for detach.
 *
 * Returns 0, or -ECANCELED when a guard refused (see iopass_txn_guards;
 * nothing was written), -EPERM when not root, -ETIMEDOUT when another iopass held
 * the lock, or another -errno when a step failed (see iopass_txn_error).
 * *ret_txn is set whenever the call got as far as planning.
 */
int iopass_attach(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		  struct iopass_dev *const *devs, size_t n, const char *driver, const char *reset,
		  unsigned flags, struct iopass_txn **ret_txn);
/* Give devs back to the driver they had before attach (or the kernel's choice). */
int iopass_detach(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		  struct iopass_dev *const *devs, size_t n, unsigned flags,
		  struct iopass_txn **ret_txn);
/* Devices iopass attached (those with a record), as addresses; free() the array. */
int iopass_attached(struct iopass_ctx *ctx, struct iopass_addr **ret_addrs, size_t *ret_n);
/* The original driver recorded for a device, or NULL (-ENOENT) when none. */
int iopass_record_get(struct iopass_ctx *ctx, const char *bdf, char **ret_driver);

/*
 * SR-IOV: create count VFs on pf (with IOPASS_VF_ATTACH: sriov_drivers_autoprobe
 * off while they appear, so no host driver takes them, then attach them all
 * or remove them again), or remove them. Refuses a PF whose VFs are in use.
 */
int iopass_vf_create(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		     struct iopass_dev *pf, unsigned count, unsigned flags,
		     struct iopass_txn **ret_txn);
int iopass_vf_remove(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		     struct iopass_dev *pf, unsigned flags, struct iopass_txn **ret_txn);

size_t iopass_txn_step_count(const struct iopass_txn *t);
const char *iopass_txn_step_path(const struct iopass_txn *t, size_t i);
const char *iopass_txn_step_value(const struct iopass_txn *t, size_t i);
/* 1 done, 0 not done (dry run, or not reached), -errno failed */
int iopass_txn_step_result(const struct iopass_txn *t, size_t i);
bool iopass_txn_step_is_rollback(const struct iopass_txn *t, size_t i);
size_t iopass_txn_dev_count(const struct iopass_txn *t);
const char *iopass_txn_dev_bdf(const struct iopass_txn *t, size_t i);
const char *iopass_txn_dev_from(const struct iopass_txn *t, size_t i); /* driver before, NULL: none */
const char *iopass_txn_dev_to(const struct iopass_txn *t, size_t i);   /* driver after */
enum iopass_dev_status {
	IOPASS_DEV_PLANNED,     /* dry run, or not reached */
	IOPASS_DEV_UNCHANGED,   /* on the driver asked for already (or not ours to detach) */
	IOPASS_DEV_ATTACHED,
	IOPASS_DEV_DETACHED,
	IOPASS_DEV_ROLLED_BACK, /* a step failed: back as it was */
	IOPASS_DEV_GONE,        /* it went away during the run */
	IOPASS_DEV_FAILED,      /* the rollback of it failed too */
	IOPASS_DEV_CREATED,     /* vf create: a new VF */
	IOPASS_DEV_REMOVED,     /* vf remove, or a failed vf create --attach: the VF is gone */
};
/* "planned", "unchanged", "attached", "detached", "rolled-back", "gone", "failed", "created", "removed" */
const char *iopass_dev_status_name(enum iopass_dev_status s);
enum iopass_dev_status iopass_txn_dev_state(const struct iopass_txn *t, size_t i);
const char *iopass_txn_dev_status(const struct iopass_txn *t, size_t i); /* its name */
/* One line: what failed, and whether the host is as it was. NULL on success. */
const char *iopass_txn_error(const struct iopass_txn *t);
/* Guard findings: what refused the transaction, or (with FORCE) what it overrode. */
const struct iopass_report *iopass_txn_guards(const struct iopass_txn *t);
/*
 * What recovery did with the journal of an interrupted run, found before this
 * one started: per device (or file under /etc), the interrupted operation
 * ("attach", "detach", "vf-create", "vf-remove", "unclaim", "persist"), the target (an
 * address or a path), the action ("rolled-back", "rolled-forward"; "continued":
 * left to this run, which moves it the same way; "left-alone": another card sits
 * at the address now; "gone") and the driver it is on afterwards (NULL: none).
 * A rollback that its guards refuse makes the whole call fail with -ECANCELED.
 */
size_t iopass_txn_recovered_count(const struct iopass_txn *t);
const char *iopass_txn_recovered(const struct iopass_txn *t, size_t i); /* the target */
const char *iopass_txn_recovered_op(const struct iopass_txn *t, size_t i);
enum iopass_recovery_action {
	IOPASS_RECOVERY_ROLLED_BACK,
	IOPASS_RECOVERY_ROLLED_FORWARD,
	IOPASS_RECOVERY_CONTINUED,  /* left to this run, which moves it the same way */
	IOPASS_RECOVERY_LEFT_ALONE, /* another card sits at the address now */
	IOPASS_RECOVERY_GONE,
};
const char *iopass_recovery_action_name(enum iopass_recovery_action a); /* "rolled-back", ... */
enum iopass_recovery_action iopass_txn_recovered_state(const struct iopass_txn *t, size_t i);
const char *iopass_txn_recovered_action(const struct iopass_txn *t, size_t i); /* its name */
const char *iopass_txn_recovered_driver(const struct iopass_txn *t, size_t i);
struct iopass_txn *iopass_txn_free(struct iopass_txn *t); /* NULL-safe */

/* ---- emit: QEMU arguments and libvirt XML --------------------------------- */

enum iopass_tristate { IOPASS_DEFAULT = -1, IOPASS_OFF = 0, IOPASS_ON = 1 };

struct iopass_emit_opts {
	const char *const *buses; /* guest buses, one per physical device; NULL: "pcie.0" for all */
	size_t nbuses;
	int first_slot;           /* -1: 0x10 on pcie.0, 0 on a named bus */
	int rombar;               /* enum iopass_tristate */
	const char *romfile;
	bool primary_gpu;         /* x-vga=on (VGA devices, legacy BIOS guests only) */
	int display;              /* enum iopass_tristate */
	bool iommufd;
	bool managed;             /* libvirt managed='yes' */
	bool root_ports;          /* a pcie-root-port per PCIe card (q35; not with buses) */
	bool guest_address;       /* libvirt: write each device's guest <address> */
};

/* The placement of a set of devices in a guest, and their properties. */
struct iopass_emit;

/*
 * Place devs in a guest: the functions of one physical device share a guest
 * slot (multifunction=on on function 0), physical devices take consecutive
 * slots from first_slot, or one bus each when several buses are given; with
 * root_ports each PCIe card's slot on pcie.0 holds a pcie-root-port and the
 * card sits at slot 0 behind it.
 * -EINVAL with iopass_emit_error() for options that do not fit the devices,
 * -ENODEV when the host cannot do what was asked (iommufd without /dev/iommu).
 */
int iopass_emit_new(struct iopass_ctx *ctx, struct iopass_dev *const *devs, size_t n,
		    const struct iopass_emit_opts *opts, struct iopass_emit **ret_emit);
const char *iopass_emit_error(const struct iopass_emit *e); /* set when new failed */
/* libvirt: the <hostdev> element of device i, or of all (i = SIZE_MAX). */
int iopass_emit_libvirt(const struct iopass_emit *e, size_t i, char **ret_text);
size_t iopass_emit_count(const struct iopass_emit *e);
const char *iopass_emit_bdf(const struct iopass_emit *e, size_t i);
const char *iopass_emit_id(const struct iopass_emit *e, size_t i);
const char *iopass_emit_bus(const struct iopass_emit *e, size_t i);
int iopass_emit_slot(const struct iopass_emit *e, size_t i);
int iopass_emit_function(const struct iopass_emit *e, size_t i);
bool iopass_emit_multifunction(const struct iopass_emit *e, size_t i);
/* The -device argument of device i, without "-device " ("vfio-pci,host=..."). */
const char *iopass_emit_device_arg(const struct iopass_emit *e, size_t i);
/*
 * With root_ports: the pcie-root-port devices to add (on pcie.0, one per PCIe
 * card, before the card), and which of them device i is behind (-1: none).
 */
struct iopass_emit_port {
	const char *id;     /* "iopass-rp0" */
	int slot, chassis;  /* its slot on pcie.0, its chassis number */
	const char *device; /* the -device argument, "pcie-root-port,..." */
};
int iopass_emit_port(const struct iopass_emit *e, size_t i);
size_t iopass_emit_port_count(const struct iopass_emit *e);
const struct iopass_emit_port *iopass_emit_port_get(const struct iopass_emit *e, size_t k);
struct iopass_emit *iopass_emit_free(struct iopass_emit *e); /* NULL-safe */

/* ---- persistence: vfio-pci from boot, per device ------------------------- */

/*
 * The record (<sysroot>/etc/iopass/persist) keys each device by address and
 * IDs; from it iopass generates, whole and atomically, a udev rule file
 * (etc/udev/rules.d/60-iopass.rules: driver_override to the device's vfio
 * driver on add, then a rebind through 'iopass __udev-bind') and a modprobe
 * file (etc/modprobe.d/iopass.conf: softdep <host driver's module> pre:
 * vfio-pci, for the devices held on vfio-pci). Each carries a header and a
 * checksum; a file edited by hand is not overwritten without IOPASS_BIND_FORCE.
 */
struct iopass_persist;

enum iopass_persist_state {
	IOPASS_PERSIST_ACTIVE,   /* present, same IDs, on vfio-pci */
	IOPASS_PERSIST_INACTIVE, /* present, same IDs, not on vfio-pci (rule not applied yet) */
	IOPASS_PERSIST_MOVED,    /* another card sits at the address now */
	IOPASS_PERSIST_ABSENT,   /* no device at the address */
};

int iopass_persist_load(struct iopass_ctx *ctx, struct iopass_persist **ret_persist);
size_t iopass_persist_count(const struct iopass_persist *p);
const char *iopass_persist_bdf(const struct iopass_persist *p, size_t i);
const char *iopass_persist_ids(const struct iopass_persist *p, size_t i); /* "vvvv:dddd" */
const char *iopass_persist_host_driver(const struct iopass_persist *p, size_t i); /* or NULL */
const char *iopass_persist_driver(const struct iopass_persist *p, size_t i); /* vfio-pci, a variant */
enum iopass_persist_state iopass_persist_state(const struct iopass_persist *p, size_t i,
					       const struct iopass_devlist *list);
const char *iopass_persist_state_name(enum iopass_persist_state s); /* "active", ... */
struct iopass_persist *iopass_persist_free(struct iopass_persist *p);

/*
 * Add or remove devices from the boot configuration: their lines in the
 * desired state (IOPASS_DESIRED_FILE, the one source of truth: add sets the
 * line's driver and 'boot', appending a line pinned to address and IDs when
 * none names the device; remove takes 'boot' off it, and with release the line
 * says host, or goes when it said no more), the record and the generated
 * files, in one /etc journal. *ret_msg gets an error line, or on success a
 * note (e.g. regenerate the initramfs); free() it. host_drivers: the driver
 * each device had before attach (NULL entries for none), for the softdep
 * lines; driver: the vfio driver they are held on (NULL: vfio-pci).
 */
int iopass_persist_add(struct iopass_ctx *ctx, struct iopass_dev *const *devs,
		       const char *const *host_drivers, size_t n, const char *driver,
		       unsigned flags, char **ret_msg, struct iopass_txn **ret_txn);
int iopass_persist_remove(struct iopass_ctx *ctx, const char *const *bdfs, size_t n,
			  bool release, unsigned flags, char **ret_msg, struct iopass_txn **ret_txn);
/* (ret_txn, when not NULL: what recovery did, and the writes under /etc, as for attach) */
/*
 * Would iopass_persist_add (driver: the vfio driver) or, driver NULL, the
 * release of iopass_persist_remove go through for devs: the desired state
 * reads and parses before and after the edit, the generated files are
 * iopass's (unless IOPASS_BIND_FORCE), the directories usable? 0, else -errno
 * with *ret_msg (free() it). Nothing is written; checked before the attach or
 * detach it goes with, so that neither happens without the other.
 */
int iopass_persist_check(struct iopass_ctx *ctx, struct iopass_dev *const *devs, size_t n,
			 const char *driver, unsigned flags, char **ret_msg);
/*
 * The drift between the desired state (IOPASS_DESIRED_FILE) and the boot
 * configuration, on the host of list (a full scan): in_desired[i] (p's count
 * of them) tells whether a 'boot' line holds entry i on the record's driver;
 * *ret_pending (free() it) the 'boot' lines the record does not hold (bdf ""
 * when the line names no device now). No desired state: 0, none in it. A file
 * that cannot be read or parsed: -errno with *ret_msg (free() it).
 */
struct iopass_persist_pending {
	unsigned line;
	char bdf[IOPASS_BDF_MAX];
	char driver[72];
};
int iopass_persist_drift(struct iopass_ctx *ctx, const struct iopass_persist *p,
			 const struct iopass_devlist *list, bool *in_desired,
			 struct iopass_persist_pending **ret_pending, size_t *ret_n, char **ret_msg);
/*
 * The program the generated udev rule runs (RUN+=, the compiled-in sbindir), and
 * 0 when it is there below the sysroot and executable, else -errno: an uninstalled
 * build's rule would name a program that does not exist.
 */
int iopass_persist_helper(struct iopass_ctx *ctx, const char **ret_path);
/*
 * For 'iopass __udev-bind': is dev in the record, with the IDs it has now? A rule
 * udev has not reloaded yet (or one for a card that moved) matches devices that
 * are not. 1 yes (driver: the vfio driver it is held on), 0 no, -errno when the
 * record cannot be read.
 */
int iopass_persist_claims(struct iopass_ctx *ctx, const struct iopass_devlist *list,
			  const struct iopass_dev *dev, char *driver, size_t size);
/*
 * Undo what a stale rule did to dev: clear a driver_override of vfio-pci and, if
 * that left it without a driver, or on vfio-pci with no record of iopass's and no
 * process holding its group (udev set the override before the kernel's probe),
 * probe it so its own driver binds again. A writing session of its own (lock,
 * recovery), journaled as "unclaim": an interrupted one is finished by the next run.
 * *ret_txn (unless NULL) gets the transaction: its error says why it failed.
 */
int iopass_persist_unclaim(struct iopass_ctx *ctx, struct iopass_dev *dev,
			   struct iopass_txn **ret_txn);

/* ---- desired state: what 'iopass apply' makes the host match -------------- */

/*
 * One line per device: ADDRESS VVVV:DDDD[/SSSS:SSSS] DRIVER [OPTION...], where
 * ADDRESS is a PCI address or '*' (select by the IDs: the one such device, the
 * nth=K in address order, or a VF of pf=ADDRESS), DRIVER is vfio-pci, a vfio
 * variant driver or "host", and the options are boot, optional, vfs=N and
 * vf-driver=DRIVER. '#' after a blank (or first on a line) starts a comment.
 */
struct iopass_desired_entry {
	unsigned line;          /* in the file, from 1 */
	bool by_address;        /* addr is set; else select by the IDs ('*') */
	struct iopass_addr addr;
	uint16_t vendor, device;
	bool has_subsystem;
	uint16_t subsystem_vendor, subsystem_device;
	unsigned nth;           /* '*': the K-th device with the IDs (1-based); 0: the only one */
	bool has_pf;            /* '*': a VF of this PF */
	struct iopass_addr pf;
	char driver[72];        /* "vfio-pci", a vfio variant, or "host" */
	bool boot;              /* hold from boot on (the udev rule and softdep) */
	bool optional;          /* absent is fine (another card at the address is not) */
	int vfs;                /* the PF's VF count, -1: not stated */
	char vf_driver[72];     /* where its VFs go, "" when not stated */
};
struct iopass_desired;

/*
 * Parse a desired-state text of len bytes (not NUL-terminated). All or nothing
 * (*ret_desired NULL on a failure): -EINVAL with *ret_error (free() it) "line N:
 * what is wrong; what to write" for the first line in error, -ENOMEM.
 */
int iopass_desired_parse(const char *text, size_t len, struct iopass_desired **ret_desired,
			 char **ret_error);
/*
 * The desired state at <sysroot>/etc/iopass/desired (IOPASS_DESIRED_FILE), read
 * only when it and its directory are root's and nobody else can write them
 * (-EPERM otherwise; -ENOENT when absent); then as iopass_desired_parse().
 */
#define IOPASS_DESIRED_FILE "/etc/iopass/desired"
int iopass_desired_load(struct iopass_ctx *ctx, struct iopass_desired **ret_desired,
			char **ret_error);
size_t iopass_desired_count(const struct iopass_desired *d);
const struct iopass_desired_entry *iopass_desired_get(const struct iopass_desired *d, size_t i);
struct iopass_desired *iopass_desired_free(struct iopass_desired *d); /* NULL-safe */
/*
 * The device entry i means on the host of list (a full scan: nth= counts in
 * it): by address (with the same IDs: -ESTALE when another card sits there), or
 * by IDs (the only one, the nth=, in address order; VFs only with pf=, PFs and
 * other functions only without it; -EEXIST when several match and the line does
 * not say which). Absent: -ENODEV, or 0 with *ret_dev NULL for an 'optional'
 * line. vfs= on a device that is no SR-IOV PF: -EOPNOTSUPP. Errors as for the
 * parser, "line N: ...".
 */
int iopass_desired_resolve(const struct iopass_desired *d, size_t i,
			   const struct iopass_devlist *list, struct iopass_dev **ret_dev,
			   char **ret_error);
/* Every entry into devs[count]; the first error, also -EEXIST for two lines on one device. */
int iopass_desired_resolve_all(const struct iopass_desired *d, const struct iopass_devlist *list,
			       struct iopass_dev **devs, char **ret_error);

/* ---- apply: make the host match a desired state ---------------------------- */

/*
 * One writing run (lock, recovery, a scan under the lock): every line resolved
 * to its device, the plan, every guard of it before the first write, then the
 * VF counts, the moves back to the host drivers, the moves onto vfio drivers
 * (each a journaled step of attach's, detach's or vf's), and the boot
 * configuration last. A failed step is rolled back and the moves made before it
 * are undone; VF counts changed before it stay. Devices no line names are left
 * alone. IOPASS_BIND_DRY_RUN: the plan and its guards, no lock, no write.
 * Returns 0, -ECANCELED (a guard refused, or a line cannot be resolved: its
 * finding is among iopass_txn_guards(), codes "desired-absent", "desired-other-card",
 * "desired-ambiguous", "desired-not-pf", "desired-vfs-range", "desired-vf-remade"; nothing was
 * written), -EPERM, -ETIMEDOUT or another -errno (iopass_txn_error says what,
 * and what was undone). *ret is set whenever the call got as far as planning.
 */
struct iopass_apply;

enum iopass_change_field {
	IOPASS_CHANGE_DRIVER, /* "driver": the driver, "host" for the kernel's choice */
	IOPASS_CHANGE_VFS,    /* "vfs": a PF's VF count */
	IOPASS_CHANGE_BOOT,   /* "boot": "yes" when in the boot configuration */
};

enum iopass_change_status {
	IOPASS_CHANGE_UNCHANGED,   /* the host matched the line already */
	IOPASS_CHANGE_PLANNED,     /* dry run */
	IOPASS_CHANGE_DONE,
	IOPASS_CHANGE_ROLLED_BACK, /* done, or begun, and undone after a failure */
	IOPASS_CHANGE_FAILED,      /* its step failed and could not be undone */
	IOPASS_CHANGE_NOT_RUN,     /* a step before it failed */
};

int iopass_apply(struct iopass_ctx *ctx, const struct iopass_desired *d, unsigned flags,
		 struct iopass_apply **ret);
struct iopass_apply *iopass_apply_free(struct iopass_apply *a); /* NULL-safe */
/* Something was changed (or, dry run, would be: not when refused). A run refused after
 * it changed VF counts has changed something, and so has one whose undo failed. */
bool iopass_apply_changed(const struct iopass_apply *a);
/* The writes, the guards and the lines refused, what recovery did, the error. */
const struct iopass_txn *iopass_apply_txn(const struct iopass_apply *a);
/* Per device and field of every line resolved, unchanged ones included, in line order. */
size_t iopass_apply_count(const struct iopass_apply *a);
unsigned iopass_apply_line(const struct iopass_apply *a, size_t i);
const char *iopass_apply_bdf(const struct iopass_apply *a, size_t i);
enum iopass_change_field iopass_apply_field(const struct iopass_apply *a, size_t i);
const char *iopass_change_field_name(enum iopass_change_field f); /* "driver", "vfs", "boot" */
const char *iopass_apply_from(const struct iopass_apply *a, size_t i);
const char *iopass_apply_to(const struct iopass_apply *a, size_t i);
enum iopass_change_status iopass_apply_status(const struct iopass_apply *a, size_t i);
/* "unchanged", "planned", "done", "rolled-back", "failed", "not-run" */
const char *iopass_change_status_name(enum iopass_change_status s);
/* The boot configuration was written (dry run: would be); its note; the initramfs
 * command when devices go in. */
bool iopass_apply_boot_changed(const struct iopass_apply *a);
const char *iopass_apply_boot_note(const struct iopass_apply *a);
const char *iopass_apply_initramfs(const struct iopass_apply *a);
/* Dry run: what the plan could not say yet (the drivers of VFs that vfs= makes), or NULL. */
const char *iopass_apply_note(const struct iopass_apply *a);

#ifdef __cplusplus
}
#endif

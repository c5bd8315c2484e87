/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to libiopass: struct layouts, the sysfs access module, helpers. */
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <libkmod.h>

#include "iopass.h"
#include "macro.h"

struct pci_access;

struct iopass_ctx {
	char *sysroot;     /* normalised, no trailing slash; "" means "/" */
	int rootfd;        /* O_PATH directory fd of the sysroot */
	iopass_log_fn log_fn;
	void *log_data;
	int log_prio;
	char *ids_file;
	struct pci_access *pacc; /* names only; created on first lookup */
	struct name_cache *names; /* names.c: one lookup per ID, shared by every device */
	bool names_failed;
	bool bridge_attrs_seen; /* a device had secondary_bus_number: the kernel shows them */
	struct pci_access *cfg_pacc; /* config space; created on first use */
	bool cfg_failed;
	int lock_timeout_ms;
	/* read once per context by the host-use guards (hostuse.c, check.c) */
	struct hostuse_cache *hu;
	struct fd_user *fd_users; /* hostuse.c: device files held open, one walk of /proc */
	size_t nfd_users;
	bool fd_users_read;
	struct {
		char name[72];
		bool present;
	} drivers_seen[32]; /* dev.c: driver directories looked up during a scan */
	size_t ndrivers_seen;
	struct vfio_index *vfio_index; /* variant.c: modules.alias's vfio_pci aliases, read once */
};

enum {
	DEV_HAVE_VENDOR = 1 << 0,
	DEV_HAVE_DEVICE = 1 << 1,
	DEV_HAVE_CLASS = 1 << 2,
	DEV_HAVE_SUBVENDOR = 1 << 3,
	DEV_HAVE_SUBDEVICE = 1 << 4,
	DEV_BOOT_VGA = 1 << 5,
	DEV_VFIO = 1 << 6,
	DEV_NAMES_LOOKED_UP = 1 << 7,
	/* a bridge known without its class (iopass_scan_candidates): on pcieport, or with a
	 * bus below it in /sys/class/pci_bus */
	DEV_BRIDGE_KNOWN = 1 << 8,
	/* the kernel's pci_is_bridge() (header type 1 or 2), seen as secondary_bus_number */
	DEV_BRIDGE_HEADER = 1 << 9,
	DEV_BRIDGE_PROBED = 1 << 10, /* secondary_bus_number was looked for */
	DEV_RELATED_SUBJECT = 1 << 11, /* iopass_scan_related(), while it runs */
};

/* What config space says (config.c), read on first use. */
struct dev_caps {
	int config_error;     /* -errno when config could not be read */
	size_t config_len;    /* bytes readable (64 for unprivileged readers) */
	bool header_ok;
	uint8_t header_type;  /* 0 endpoint, 1 PCI bridge, 2 CardBus */
	bool multifunction;
	bool caps_tried;      /* the capabilities were looked for (dev_get_caps) */
	bool caps_ok;         /* capability lists were walked */
	int pcie_type;        /* PCI_EXP_TYPE_*, -1 when not PCIe */
	bool flr, af_flr;
	bool pm, pm_no_soft_reset;
	bool acs;
	uint16_t acs_cap, acs_ctrl;
	uint16_t acs_ctrl_dword; /* the low half of the dword at ACS + 8 (Intel SPT PCH's control) */
};

struct iopass_dev {
	struct iopass_ctx *ctx;
	struct iopass_addr addr;
	char bdf[IOPASS_BDF_MAX];
	unsigned flags;
	uint16_t vendor, device, subvendor, subdevice;
	uint32_t class;
	int group;      /* -ENOENT when none */
	int numvfs;     /* -ENOENT when not a PF */
	int totalvfs;
	char *driver;
	char *physfn;
	char *warning;
	const char *vendor_name, *device_name, *class_name; /* owned by ctx's name cache */
	struct dev_caps *caps;
	char *sysfs_dir;  /* "devices/pci0000:00/0000:00:01.0/0000:01:00.0", lazily */
	bool parent_known;
	struct iopass_addr parent;
	bool has_parent;
};

struct iopass_devlist {
	struct iopass_dev **devs; /* sorted by address: a bus, a slot are contiguous runs */
	size_t count;
	/* indexes built on first use, so that check --all stays linear */
	struct iopass_dev **by_group; /* devices with a group, by group then address */
	size_t ngrouped;
	struct iopass_dev **vfs;      /* VFs, by PF address then address */
	size_t nvfs;
};

/* logging (never to stdout/stderr directly) */
void iopass_log(const struct iopass_ctx *ctx, int prio, const char *fmt, ...) _printf_(3, 4);
#define iop_dbg(ctx, ...) iopass_log(ctx, IOPASS_LOG_DEBUG, __VA_ARGS__)
#define iop_warn(ctx, ...) iopass_log(ctx, IOPASS_LOG_WARNING, __VA_ARGS__)

/*
 * sysfs.c: the only module that touches the file system. Paths given to the
 * ctx-taking functions are absolute ("/sys/bus/pci/devices") and are resolved
 * below the sysroot; the *_at functions take a directory fd from
 * sysfs_open_dir() and a path relative to it ("class", "0000:01:00.0/class").
 */
int sysfs_open_dir(const struct iopass_ctx *ctx, const char *path);
int sysfs_opendir(const struct iopass_ctx *ctx, const char *path, DIR **ret_dir);
int sysfs_exists(const struct iopass_ctx *ctx, const char *path);
int sysfs_stat(const struct iopass_ctx *ctx, const char *path, struct stat *st);
ssize_t sysfs_read(const struct iopass_ctx *ctx, const char *path, char *buf, size_t size);
ssize_t sysfs_read_at(int dirfd, const char *name, char *buf, size_t size);
/* A count (0..65535) such as sriov_numvfs: -EINVAL when it is not one. */
int sysfs_read_count(const struct iopass_ctx *ctx, const char *path, int *ret);
int sysfs_read_count_at(int dirfd, const char *name, int *ret);
int sysfs_link_name_at(int dirfd, const char *name, char *buf, size_t size);
int sysfs_exists_at(int dirfd, const char *name);
/* The full path of a sysroot-relative path, for libraries that want a string (libpci). */
int sysfs_full_path(const struct iopass_ctx *ctx, const char *path, char **ret);

/* Binary read of up to size bytes; returns the length. */
ssize_t sysfs_read_bin_at(int dirfd, const char *name, void *buf, size_t size);
ssize_t sysfs_read_bin(const struct iopass_ctx *ctx, const char *path, void *buf, size_t size);
/* Read a whole text file (up to max bytes) into a NUL-terminated malloc'd buffer. */
int sysfs_read_file(const struct iopass_ctx *ctx, const char *path, size_t max, char **ret);

ssize_t sysfs_readlink(const struct iopass_ctx *ctx, const char *path, char *buf, size_t size);
ssize_t sysfs_readlink_at(int dirfd, const char *name, char *buf, size_t size);

int sysfs_write(const struct iopass_ctx *ctx, const char *path, const char *value);
int sysfs_open_owned_dir(const struct iopass_ctx *ctx, const char *const *parts, size_t n,
			 bool create, mode_t mode);
int sysfs_open_state_dir(const struct iopass_ctx *ctx, bool create);
int state_read(int dirfd, const char *name, size_t max, char **ret);
int state_read_mode(int dirfd, const char *name, size_t max, mode_t forbidden, char **ret);
int state_write(int dirfd, const char *name, const char *data);
int state_write_mode(int dirfd, const char *name, const char *data, mode_t mode);
int state_remove(int dirfd, const char *name);

/*
 * kmod-dl.c: libkmod, opened on first use. kmod_dl_open() returns 0 or
 * -ENOPKG when libkmod.so.2 cannot be loaded; then call sym_kmod_*().
 */
int kmod_dl_open(void);
extern typeof(kmod_new) *sym_kmod_new;
extern typeof(kmod_unref) *sym_kmod_unref;
extern typeof(kmod_set_log_priority) *sym_kmod_set_log_priority;
extern typeof(kmod_validate_resources) *sym_kmod_validate_resources;
extern typeof(kmod_list_next) *sym_kmod_list_next;
extern typeof(kmod_module_new_from_lookup) *sym_kmod_module_new_from_lookup;
extern typeof(kmod_module_get_module) *sym_kmod_module_get_module;
extern typeof(kmod_module_get_path) *sym_kmod_module_get_path;
extern typeof(kmod_module_probe_insert_module) *sym_kmod_module_probe_insert_module;
extern typeof(kmod_module_unref) *sym_kmod_module_unref;
extern typeof(kmod_module_unref_list) *sym_kmod_module_unref_list;

/* variant.c */
struct vfio_index;
void vfio_index_free(struct vfio_index *x);
/* The running kernel's release (the sysroot's /proc/sys/kernel/osrelease, else uname): 0 or -errno. */
int kernel_release(struct iopass_ctx *ctx, char *release, size_t size);

/* names.c */
struct name_cache;
void names_cache_free(struct name_cache *c);

/* dev.c */
const char *dev_sysfs_dir(struct iopass_dev *dev);
void dev_parse_uevent(struct iopass_dev *dev, char *buf);
/* The members of group g: *ret points at the first, the count is returned. */
size_t devlist_group(const struct iopass_devlist *list, int g, struct iopass_dev *const **ret);
/* The devices on dev's bus (slot_only: in dev's slot), a run of the sorted list. */
size_t devlist_bus(const struct iopass_devlist *list, const struct iopass_dev *dev, bool slot_only,
		   struct iopass_dev *const **ret);
/* The VFs of pf. */
size_t devlist_vfs(const struct iopass_devlist *list, const struct iopass_dev *pf,
		   struct iopass_dev *const **ret);

/* config.c */
const struct dev_caps *dev_get_caps(struct iopass_dev *dev);
bool dev_header_known(const struct iopass_dev *dev);

/* report.c */
struct iopass_report *report_new(void);
void report_add(struct iopass_report *r, enum iopass_level level, const char *code,
		const char *fmt, ...) _printf_(4, 5);
/* Set the effect of the finding added last (default: unless-forced for fail, else informs). */
void report_effect(struct iopass_report *r, enum iopass_effect effect);
/* Set the hint of the finding added last. */
void report_hint(struct iopass_report *r, const char *fmt, ...) _printf_(2, 3);
void report_need(struct iopass_report *r, const char *bdf);
void report_set_verdict(struct iopass_report *r, enum iopass_verdict v);
bool report_oom(const struct iopass_report *r);

/* hostuse.c: processes holding /dev/vfio/<group> open, "qemu (pid 42)"; 0 when none */
size_t vfio_group_users(struct iopass_ctx *ctx, int group, char *buf, size_t size);
size_t dev_node_users(struct iopass_ctx *ctx, const char *node, char *buf, size_t size);

/* txn.c: the transaction object; guard.c: the guards */
struct step {
	char *path;
	char *value;
	int result; /* 1 done, 0 not reached, -errno failed */
	bool rollback;
};

struct txdev {
	char bdf[IOPASS_BDF_MAX];
	char *from, *to;
	char *override; /* driver_override to give back on detach, NULL: none */
	/* what a rollback restores: the driver and override as they were before this run */
	char *undo_driver, *undo_override;
	char *undo_reset; /* reset_method before this run, when the run sets it; NULL: untouched */
	enum iopass_dev_status status;
	bool adopt;     /* an interrupted attach left it on the driver: record it, write nothing */
};

struct recovered {
	const char *op;     /* "attach", "detach", "vf-create", "vf-remove", "persist" */
	char *target;       /* a device address, or a file */
	enum iopass_recovery_action action;
	char *driver;       /* the device's driver afterwards, NULL: none or a file */
};

struct iopass_txn {
	struct step *steps;
	size_t nsteps;
	struct txdev *devs;
	size_t ndevs;
	char *error;
	struct iopass_report *guards;
	struct recovered *recovered;
	size_t nrecovered;
	bool oom;
};

struct record {
	char bdf[IOPASS_BDF_MAX];
	char driver[72];   /* "" when it had none */
	char override[72]; /* "" when none */
	char ids[24];      /* journal: "vvvv:dddd:ssss:ssss" when it was written, "" unknown */
	bool has_reset;    /* attach --reset-method changed reset_method: ... */
	char reset[128];   /* ... what it was (blank-separated, "" for none), to give back */
};

struct records {
	struct record *r;
	size_t n;
};

/* state.c: the lock, the record (run/iopass/state), the journal, recovery */
enum jop { JOP_NONE, JOP_ATTACH, JOP_DETACH, JOP_VF_CREATE, JOP_VF_REMOVE, JOP_UNCLAIM };

struct journal {
	enum jop op;
	char driver[72];             /* attach: the driver the devices go to */
	char pf[IOPASS_BDF_MAX];     /* vf-create, vf-remove: the PF */
	int pf_autoprobe, pf_numvfs; /* the PF's values before */
	struct records devs;         /* what each device had, and who it is */
};

/* What the run at hand is about to do: recovery leaves those devices to it. */
struct intent {
	enum jop op;
	const char *driver;
	struct iopass_dev *const *devs;
	size_t n;
	unsigned flags; /* IOPASS_BIND_FORCE_RECOVERY */
};

struct session {
	int dirfd, lockfd;
	struct records state;
	struct iopass_devlist *list; /* scanned under the lock (session_scan) */
	struct records inherited;    /* an interrupted attach's entries left to this run */
};

struct iopass_txn *txn_new(void);
char *xstrdup_or_null(struct iopass_txn *t, const char *s);
struct step *txn_step(struct iopass_txn *t, const char *path, const char *value, bool rollback);
struct txdev *txn_dev(struct iopass_txn *t, const char *bdf);
void txn_error(struct iopass_txn *t, const char *fmt, ...) _printf_(2, 3);
void txn_finish(struct iopass_txn *t, int r);
/* t->guards, created on first use */
struct iopass_report *txn_guards_new(struct iopass_txn *t);
void txn_recovered(struct iopass_txn *t, const char *op, const char *target,
		   enum iopass_recovery_action action, const char *driver);
/* Append what a nested transaction did (steps, devices, recovery, its error, its guards). */
void txn_merge(struct iopass_txn *t, const struct iopass_txn *sub);

/* driver.c: reading a device's driver, the kernel writes, loading a driver */
void dev_path(char *buf, size_t size, const char *bdf, const char *attr);
bool driver_loaded(struct iopass_ctx *ctx, const char *driver);
/* The VFIO node a bound device gets: /dev/vfio/<group>, or its cdev. */
bool vfio_node_present(struct iopass_ctx *ctx, const char *bdf, int group);
/* The module behind a driver, with libkmod (the live system only). */
int load_driver(struct iopass_ctx *ctx, const char *driver);
int do_write(struct iopass_ctx *ctx, struct iopass_txn *t, const char *path, const char *value,
	     bool rollback);
int current_driver(struct iopass_ctx *ctx, const char *bdf, char *drv, size_t size);
int current_override(struct iopass_ctx *ctx, const char *bdf, char *buf, size_t size);
/* The one "is a vfio driver" rule (driver.c): by name (an override, a record), bound to a
 * device (vfio-dev/ at vfio_dev relative to dirfd marks variants), bound to bdf now */
bool driver_name_is_vfio(const char *name);
bool driver_bound_is_vfio(const char *name, int dirfd, const char *vfio_dev);
bool driver_is_vfio(struct iopass_ctx *ctx, const char *bdf, const char *cur);
/* The device's VFIO cdev exists: vfio-dev/vfioN and /dev/vfio/devices/vfioN. */
bool vfio_cdev_present(struct iopass_ctx *ctx, const char *bdf);
/* Put a device back to driver and override, writing only what differs. */
int restore_dev(struct iopass_ctx *ctx, struct iopass_txn *t, const char *bdf, const char *driver,
		const char *override, const char *reset, bool rollback);
int current_reset_methods(struct iopass_ctx *ctx, const char *bdf, char *buf, size_t size);
int reset_methods_set(struct iopass_ctx *ctx, struct iopass_txn *t, const char *bdf,
		      const char *methods, bool rollback);
int reset_methods_give_back(struct iopass_ctx *ctx, struct iopass_txn *t, const char *bdf,
			    const char *reset, bool rollback);
/* guard.c: attach's guards on devs (check's blocking findings), and detach's (no VM holds a group);
 * findings go to t->guards, each message prefixed by why ("VF ") when not NULL;
 * -ECANCELED: refused */
int guard(struct iopass_ctx *ctx, const struct iopass_devlist *list, struct iopass_dev *const *devs,
	  size_t n, unsigned flags, struct iopass_txn *t, const char *why);
int guard_group_open(struct iopass_ctx *ctx, struct iopass_dev *const *devs, size_t n,
		     unsigned flags, struct iopass_txn *t, const char *why);
/* bind.c: the attach of devs (of s->list) inside a session; j: the journal to extend (its op set). */
/* What an attach asks for: the driver, the reset methods (NULL: untouched), leave devices on any vfio driver. */
struct attach_req {
	const char *driver;
	const char *reset;
	bool keep_vfio;
};
int attach_locked(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		  struct iopass_dev *const *devs, size_t n, const struct attach_req *req,
		  struct journal *j, bool own_journal);
/* bind.c: the detach of devs (of s->list) inside a session; dry_run: the plan only, s->state a peek */
int detach_locked(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		  struct iopass_dev *const *devs, size_t n, bool dry_run);
/* sriov.c, inside a session: count VFs on pf (IOPASS_VF_ATTACH: onto vfio-pci), or none;
 * the guards of a removal (no VM or host use of the VFs) */
int vf_create_locked(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		     const struct iopass_dev *pf, unsigned count, unsigned flags);
int vf_remove_locked(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		     const struct iopass_dev *pf, unsigned flags);
int guard_vfs(struct iopass_ctx *ctx, struct iopass_dev *const *vfs, size_t n, unsigned flags,
	      struct iopass_txn *t);
/* devs (from any scan) as they are in s->list, scanned under the lock; free() the array */
int session_devs(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		 struct iopass_dev *const *devs, size_t n, struct iopass_dev ***ret);

/* Lock, record, a scan, recovery from an interrupted run (in: what this run will do). */
int session_begin(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		  const struct intent *in);
/* Give back a device a stale udev rule put on vfio-pci (journaled): see state.c. */
int session_unclaim(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		    const char *bdf);
/* persist.c: what every writing command opens, session_begin and then the /etc journal's recovery */
int session_open(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		 const struct intent *in);
void session_end(struct session *s);
int session_scan(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		 const struct iopass_addr *seeds, size_t nseeds);
void records_free(struct records *rs);
/* The text of the record; -EBADMSG when corrupt. */
int records_parse(const char *text, struct records *rs);
struct record *records_find(struct records *rs, const char *bdf);
struct record *records_add(struct records *rs, const char *bdf, const char *driver,
			   const char *override);
void records_remove(struct records *rs, const char *bdf);
int records_store(int dirfd, const struct records *rs);
int records_peek(struct iopass_ctx *ctx, struct records *rs);
const char *jop_name(enum jop op);
int journal_parse(const char *text, struct journal *j);
int journal_store(int dirfd, const struct journal *j);
int journal_remove(int dirfd);
void journal_free(struct journal *j);
struct record *journal_add(struct iopass_ctx *ctx, struct journal *j, const char *bdf,
			   const char *driver, const char *override);
/* An interrupted run's journal is in run/iopass (persist_journal_pending: /etc/iopass). */
bool journal_pending(struct iopass_ctx *ctx);
int dev_identity(struct iopass_ctx *ctx, const char *bdf, char *buf, size_t size);
#define STATE_FILE "state"

/* driver.c: a PF's sriov_numvfs or sriov_drivers_autoprobe */
void pf_path(char *buf, size_t size, const char *bdf, const char *attr);
int pf_write(struct iopass_ctx *ctx, struct iopass_txn *t, const char *bdf, const char *attr,
	     int value, bool rollback);
int sriov_read(struct iopass_ctx *ctx, const char *bdf, const char *attr, int *ret);
int sriov_restore(struct iopass_ctx *ctx, struct iopass_txn *t, const char *bdf, const char *attr,
		  int want);

/* persist.c */
struct iopass_persist;
int persist_parse(const char *text, struct iopass_persist *p);
/* The /etc journal of an interrupted change of the boot configuration: finish or undo it. */
int persist_recover(struct iopass_ctx *ctx, struct iopass_txn *t);
bool persist_journal_pending(struct iopass_ctx *ctx);
/* The command that regenerates the initramfs on this distribution (os-release), or NULL. */
const char *persist_initramfs_command(struct iopass_ctx *ctx);
/* One device's change of the boot configuration. */
enum persist_op {
	PERSIST_ADD,     /* held on a vfio driver from boot on */
	PERSIST_REMOVE,  /* no longer: its desired-state line loses 'boot' */
	PERSIST_RELEASE, /* detach --persist: ... and the line says host (or goes) */
};
struct persist_change {
	enum persist_op op;
	struct iopass_dev *dev;    /* PERSIST_ADD: the device (else unused) */
	const char *bdf;           /* its address */
	const char *host_driver;   /* PERSIST_ADD: the driver it had, NULL: none known */
	const char *driver;        /* PERSIST_ADD: the vfio driver it is held on */
	const struct iopass_desired_entry *line; /* apply: its line, written as it is */
};
int persist_set_locked(struct iopass_ctx *ctx, const struct persist_change *c, size_t n,
		       unsigned flags, bool check_only, char **msg);

/* desired.c: editing a desired-state text */
#define DESIRED_MAX_FILE (16u << 20) /* 65536 lines of 256 bytes */
/* Entry e as one line, the way iopass writes it (no newline); -ENAMETOOLONG when size is short. */
int desired_format(const struct iopass_desired_entry *e, char *buf, size_t size);
/* The same device, driver and options (not the same line number). */
bool desired_entry_equal(const struct iopass_desired_entry *a, const struct iopass_desired_entry *b);
/*
 * The device each '*' entry of d names on list (a full scan), resolved once for the
 * lookups below: *ret (free() it) has one slot per entry, NULL for address lines and
 * for '*' lines that name no device; with list NULL, every slot is NULL.
 */
int desired_resolve_ids(const struct iopass_desired *d, const struct iopass_devlist *list,
			struct iopass_dev ***ret);
/* The entry naming the device at addr: by address, or a '*' line that names it (named:
 * from desired_resolve_ids); -1 when none does. */
ssize_t desired_find(const struct iopass_desired *d, struct iopass_dev *const *named,
		     const struct iopass_addr *addr);
/* The one '*' line with 'boot' and these IDs (no pf=) that names no device here now: the
 * line of a recorded card that is absent; -1 when none or several are. */
ssize_t desired_find_absent(const struct iopass_desired *d, struct iopass_dev *const *named,
			    uint16_t vendor, uint16_t device);
struct desired_edit {
	unsigned line;    /* the line replaced (from 1), 0: text is a line to append */
	const char *text; /* the new line, without newline; NULL: the line goes */
};
/* A target driver as a line names it: "host", or a vfio driver spelt as a module name. */
bool desired_driver_ok(const char *s);
/* Line (from 1) of text ends in a comment. */
bool desired_line_commented(const char *text, unsigned line);
/* text with the edits made (a replaced line keeps its comment), or NULL on ENOMEM. */
char *desired_rewrite(const char *text, const struct desired_edit *edits, size_t n);

/* ctx.c: forget the host-wide facts read so far (routes, mounts, open files) */
void ctx_forget_host_facts(struct iopass_ctx *ctx);

/* hostuse.c: what the host uses a device for (the guards of check and attach) */
void hostuse_check(struct iopass_dev *dev, struct iopass_report *r, const char *prefix);
void hostuse_cache_free(struct hostuse_cache *hu);

/* parse.c */
int parse_hex(const char *s, unsigned max_digits, bool allow_0x, uint32_t *ret);
int parse_uint(const char *s, unsigned max, unsigned *ret);
bool name_is_safe(const char *s); /* one path component, printable, no '/', not . or .. */

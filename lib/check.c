// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * iopass check: is the host ready for VFIO, and can this device be passed
 * through? Every finding carries evidence (what was read where) and a hint.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libkmod.h>
#include <pci/pci.h>

#include "iopass-private.h"

/* ---- host ---------------------------------------------------------------- */

/* The value of "key=value" on the kernel command line ("" for a bare key), or NULL. */
static const char *cmdline_get(const char *cmdline, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);
	const char *p = cmdline;

	while (p && *p) {
		size_t len;

		p += strspn(p, " \t\n");
		len = strcspn(p, " \t\n");
		if (len >= klen && strncmp(p, key, klen) == 0 && (len == klen || p[klen] == '=')) {
			size_t vlen = len == klen ? 0 : len - klen - 1;

			if (vlen >= size)
				vlen = size - 1;
			memcpy(buf, p + klen + (len == klen ? 0 : 1), vlen);
			buf[vlen] = '\0';
			return buf;
		}
		p += len;
	}
	return NULL;
}

static void read_cpu_vendor(struct iopass_ctx *ctx, char *buf, size_t size)
{
	_cleanup_free_ char *info = NULL;
	const char *p;

	buf[0] = '\0';
	if (sysfs_read_file(ctx, "/proc/cpuinfo", 64 << 20, &info) < 0)
		return;
	p = strstr(info, "vendor_id");
	p = p ? strchr(p, ':') : NULL;
	if (p) {
		p += strspn(p + 1, " \t") + 1;
		snprintf(buf, size, "%.*s", (int)strcspn(p, " \t\n"), p);
	}
}

static int list_dir_names(struct iopass_ctx *ctx, const char *path, char *buf, size_t size)
{
	struct dirent *de;
	size_t len = 0;
	int n = 0;
	DIR *dir;

	buf[0] = '\0';
	if (sysfs_opendir(ctx, path, &dir) < 0)
		return 0;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		if (len + strlen(de->d_name) + 3 < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", de->d_name);
	}
	closedir(dir);
	return n;
}

/* Count default domain types over all groups: "DMA", "identity", ... */
static void domain_types(struct iopass_ctx *ctx, char *buf, size_t size)
{
	static const char *const types[] = { "DMA", "DMA-FQ", "identity", "blocked", "unmanaged", "unknown" };
	int counts[ARRAY_SIZE(types) + 1] = { 0 };
	struct dirent *de;
	size_t len = 0;
	DIR *dir;

	buf[0] = '\0';
	if (sysfs_opendir(ctx, "/sys/kernel/iommu_groups", &dir) < 0)
		return;
	while ((de = readdir(dir))) {
		char path[300], t[32];
		size_t i;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%s/type", de->d_name);
		if (sysfs_read(ctx, path, t, sizeof(t)) < 0)
			continue;
		for (i = 0; i < ARRAY_SIZE(types) && !streq(t, types[i]); i++)
			;
		counts[i]++;
	}
	closedir(dir);
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (counts[i] && len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s ×%d", len ? ", " : "",
						types[i], counts[i]);
}

static void check_iommu(struct iopass_ctx *ctx, struct iopass_report *r, const char *cmdline,
			int ngroups)
{
	char units[512], vendor[64], v[128], types[256];
	int nunits = list_dir_names(ctx, "/sys/class/iommu", units, sizeof(units));
	bool intel, amd;

	read_cpu_vendor(ctx, vendor, sizeof(vendor));
	intel = streq(vendor, "GenuineIntel");
	amd = streq(vendor, "AuthenticAMD") || streq(vendor, "HygonGenuine");

	if (ngroups > 0) {
		domain_types(ctx, types, sizeof(types));
		report_add(r, IOPASS_LEVEL_OK, "iommu-enabled",
			   "IOMMU enabled: %d group%s in /sys/kernel/iommu_groups, %d unit%s%s%s%s",
			   ngroups, ngroups == 1 ? "" : "s", nunits, nunits == 1 ? "" : "s",
			   nunits ? " (" : "", units, nunits ? ")" : "");
		if (*types)
			report_add(r, IOPASS_LEVEL_INFO, "iommu-domain-type",
				   "default domain types: %s%s", types,
				   strstr(types, "identity") ? " (identity: host devices bypass "
							       "translation; VFIO still isolates its devices)"
							     : "");
	} else {
		const char *off = cmdline_get(cmdline, "intel_iommu", v, sizeof(v));
		bool intel_off = off && strstr(off, "off");

		off = cmdline_get(cmdline, "amd_iommu", v, sizeof(v));
		bool amd_off = off && strstr(off, "off");

		report_add(r, IOPASS_LEVEL_FAIL, "no-iommu",
			   "no IOMMU groups in /sys/kernel/iommu_groups and %s%s%s%s",
			   nunits ? "IOMMU units present (" : "no IOMMU units in /sys/class/iommu",
			   nunits ? units : "", nunits ? ") but not enabled" : "",
			   intel_off ? "; the kernel command line has intel_iommu=off"
			   : amd_off ? "; the kernel command line has amd_iommu=off"
				     : "");
		if (intel)
			report_hint(r, "enable VT-d in the firmware setup and boot with intel_iommu=on");
		else if (amd)
			report_hint(r, "enable the IOMMU (AMD-Vi, \"IOMMU\" or \"SVM\" options) in the "
				       "firmware setup; remove amd_iommu=off from the kernel command line");
		else
			report_hint(r, "enable the IOMMU in the firmware setup and on the kernel command "
				       "line (intel_iommu=on on Intel hosts)");
	}
	if (cmdline_get(cmdline, "iommu", v, sizeof(v)) && streq(v, "pt"))
		report_add(r, IOPASS_LEVEL_INFO, "iommu-passthrough",
			   "iommu=pt: host devices use identity mapping; devices given to VFIO are still isolated");
	if (cmdline_get(cmdline, "iommu.passthrough", v, sizeof(v)) && (streq(v, "1") || streq(v, "y")))
		report_add(r, IOPASS_LEVEL_INFO, "iommu-passthrough",
			   "iommu.passthrough=%s: host devices use identity mapping; devices given to VFIO are still isolated", v);
}

static bool param_yes(struct iopass_ctx *ctx, const char *path)
{
	char v[16];

	return sysfs_read(ctx, path, v, sizeof(v)) > 0 && (streq(v, "Y") || streq(v, "1"));
}

static void check_irq_remap(struct iopass_ctx *ctx, struct iopass_report *r, int ngroups)
{
	_cleanup_free_ char *irqs = NULL;
	const char *chip = NULL;
	bool unsafe_t1, unsafe_fd;

	if (ngroups == 0)
		return; /* nothing to remap for */
	if (sysfs_read_file(ctx, "/proc/interrupts", 64 << 20, &irqs) == 0) {
		if (strstr(irqs, "IR-PCI-MSI"))
			chip = "IR-PCI-MSI";
		else if (strstr(irqs, "IR-IO-APIC"))
			chip = "IR-IO-APIC";
		else if (strstr(irqs, "ITS-MSI")) /* arm64: the GIC ITS isolates MSIs */
			chip = "ITS-MSI";
	}
	if (chip) {
		report_add(r, IOPASS_LEVEL_OK, "interrupt-remapping",
			   "interrupt remapping enabled (%s interrupts in /proc/interrupts)", chip);
		return;
	}
	unsafe_t1 = param_yes(ctx, "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts");
	unsafe_fd = param_yes(ctx, "/sys/module/iommufd/parameters/allow_unsafe_interrupts");
	if (unsafe_t1 || unsafe_fd) {
		report_add(r, IOPASS_LEVEL_WARN, "unsafe-interrupts",
			   "no interrupt remapping (no IR- chips in /proc/interrupts), and %s "
			   "allow_unsafe_interrupts=Y: VFIO works, but a guest can forge interrupts to the host",
			   unsafe_t1 ? "vfio_iommu_type1" : "iommufd");
		report_hint(r, "enable interrupt remapping (x2APIC) in the firmware setup; "
			       "acceptable only when the guests are trusted");
		return;
	}
	report_add(r, IOPASS_LEVEL_FAIL, "no-interrupt-remapping",
		   "no interrupt remapping: no IR-PCI-MSI or IR-IO-APIC chips in /proc/interrupts; "
		   "VFIO refuses to attach devices without it");
	report_hint(r, "enable interrupt remapping (x2APIC) in the firmware setup, or, trusting the "
		       "guests, load vfio_iommu_type1 with allow_unsafe_interrupts=1");
}

enum modstate { MOD_MISSING, MOD_LOADABLE, MOD_BUILTIN, MOD_LOADED };

static enum modstate module_state(struct iopass_ctx *ctx, struct kmod_ctx *kctx, const char *name,
				  char *path, size_t size)
{
	char p[256], st[32];
	struct kmod_list *list = NULL, *it;
	enum modstate s = MOD_MISSING;

	path[0] = '\0';
	snprintf(p, sizeof(p), "/sys/module/%s/initstate", name);
	if (sysfs_read(ctx, p, st, sizeof(st)) > 0 && streq(st, "live"))
		return MOD_LOADED;
	if (!kctx)
		goto sysmodule;
	if (sym_kmod_module_new_from_lookup(kctx, name, &list) < 0)
		goto sysmodule;
	for (it = list; it; it = sym_kmod_list_next(list, it)) {
		struct kmod_module *mod = sym_kmod_module_get_module(it);
		const char *mp = sym_kmod_module_get_path(mod);

		if (mp) {
			snprintf(path, size, "%s", mp);
			s = MOD_LOADABLE;
		} else if (s == MOD_MISSING) {
			s = MOD_BUILTIN; /* found in modules.builtin: no file */
		}
		sym_kmod_module_unref(mod);
	}
	sym_kmod_module_unref_list(list);
	if (s != MOD_MISSING)
		return s;
sysmodule:
	/* built-in modules with parameters show up in /sys/module without initstate */
	snprintf(p, sizeof(p), "/sys/module/%s", name);
	return sysfs_exists(ctx, p) == 0 ? MOD_BUILTIN : MOD_MISSING;
}

static struct kmod_ctx *kmod_for_sysroot(struct iopass_ctx *ctx, char *release, size_t size)
{
	_cleanup_free_ char *dir = NULL, *c1 = NULL, *c2 = NULL, *c3 = NULL;
	char p[300];

	if (kernel_release(ctx, release, size) < 0 || kmod_dl_open() < 0)
		return NULL;
	snprintf(p, sizeof(p), "/lib/modules/%s", release);
	if (sysfs_full_path(ctx, p, &dir) < 0 || sysfs_full_path(ctx, "/etc/modprobe.d", &c1) < 0 ||
	    sysfs_full_path(ctx, "/run/modprobe.d", &c2) < 0 ||
	    sysfs_full_path(ctx, "/lib/modprobe.d", &c3) < 0)
		return NULL;
	const char *const configs[] = { c1, c2, c3, NULL };
	return sym_kmod_new(dir, configs);
}

static void check_modules(struct iopass_ctx *ctx, struct iopass_report *r)
{
	static const char *const state_names[] = { "missing", "loadable", "built in", "loaded" };
	char release[128] = "", path[512], scratch[512];
	struct kmod_ctx *kctx = kmod_for_sysroot(ctx, release, sizeof(release));
	enum modstate vfio, pci, type1, iommufd;
	bool dev_vfio, dev_iommu;

	if (kctx)
		sym_kmod_set_log_priority(kctx, 0);
	/* without modules.dep.bin nothing is loadable: say so rather than "missing" */
	bool kctx_ok = kctx && sym_kmod_validate_resources(kctx) != KMOD_RESOURCES_MUST_RECREATE;
	if (*release) {
		char p[300];

		snprintf(p, sizeof(p), "/lib/modules/%s/modules.dep.bin", release);
		kctx_ok = kctx_ok && sysfs_exists(ctx, p) == 0;
	}
	vfio = module_state(ctx, kctx, "vfio", scratch, sizeof(scratch));
	pci = module_state(ctx, kctx, "vfio_pci", path, sizeof(path));
	type1 = module_state(ctx, kctx, "vfio_iommu_type1", scratch, sizeof(scratch));
	iommufd = module_state(ctx, kctx, "iommufd", scratch, sizeof(scratch));
	if (kctx)
		sym_kmod_unref(kctx);

	dev_vfio = sysfs_exists(ctx, "/dev/vfio/vfio") == 0;
	dev_iommu = sysfs_exists(ctx, "/dev/iommu") == 0;

	if (pci == MOD_MISSING || vfio == MOD_MISSING) {
		report_add(r, IOPASS_LEVEL_FAIL, "no-vfio-pci",
			   "vfio_pci is %s and vfio is %s for kernel %s%s",
			   state_names[pci], state_names[vfio], *release ? release : "(unknown)",
			   kctx_ok ? "" : " (no module index in /lib/modules for it)");
		report_hint(r, "install a kernel built with CONFIG_VFIO_PCI (Debian's linux-image "
			       "packages have it) or its modules package");
	} else {
		report_add(r, IOPASS_LEVEL_OK, "vfio-pci",
			   "vfio_pci is %s%s%s%s", state_names[pci], *path && pci == MOD_LOADABLE ? " (" : "",
			   pci == MOD_LOADABLE ? path : "", *path && pci == MOD_LOADABLE ? ")" : "");
		if (pci == MOD_LOADABLE)
			report_hint(r, "iopass attach loads it");
	}
	if (type1 == MOD_MISSING && iommufd == MOD_MISSING) {
		report_add(r, IOPASS_LEVEL_FAIL, "no-vfio-iommu-backend",
			   "neither vfio_iommu_type1 nor iommufd is available for kernel %s",
			   *release ? release : "(unknown)");
		report_hint(r, "install a kernel built with CONFIG_VFIO_IOMMU_TYPE1 or CONFIG_IOMMUFD");
	} else {
		report_add(r, IOPASS_LEVEL_OK, "vfio-iommu-backend",
			   "vfio_iommu_type1 is %s, iommufd is %s", state_names[type1],
			   state_names[iommufd]);
	}
	if (dev_vfio || dev_iommu)
		report_add(r, IOPASS_LEVEL_OK, "vfio-devices", "%s%s%s present",
			   dev_vfio ? "/dev/vfio/vfio" : "", dev_vfio && dev_iommu ? " and " : "",
			   dev_iommu ? "/dev/iommu" : "");
	else
		report_add(r, IOPASS_LEVEL_INFO, "vfio-devices",
			   "/dev/vfio/vfio and /dev/iommu are absent; they appear when vfio (or iommufd) is loaded");
	if (param_yes(ctx, "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode")) {
		report_add(r, IOPASS_LEVEL_WARN, "noiommu-mode",
			   "vfio enable_unsafe_noiommu_mode=Y: devices can be used without IOMMU "
			   "protection; a guest could DMA anywhere in host memory");
		report_hint(r, "reload vfio without enable_unsafe_noiommu_mode unless this is intended");
	}
}

static void check_cmdline_extras(struct iopass_report *r, const char *cmdline)
{
	char v[512];

	if (cmdline_get(cmdline, "pcie_acs_override", v, sizeof(v))) {
		report_add(r, IOPASS_LEVEL_WARN, "acs-override",
			   "pcie_acs_override=%s is on the kernel command line: IOMMU groups are split "
			   "by a patch, not by hardware isolation; devices in different groups can "
			   "still reach each other with peer-to-peer DMA", v);
		report_hint(r, "use it only with trusted guests; isolation needs ACS in hardware");
	}
	if (cmdline_get(cmdline, "vfio-pci.ids", v, sizeof(v)) ||
	    cmdline_get(cmdline, "vfio_pci.ids", v, sizeof(v))) {
		report_add(r, IOPASS_LEVEL_WARN, "vfio-pci-ids",
			   "vfio-pci.ids=%s on the kernel command line claims every device with these "
			   "IDs at boot, including identical cards the host needs", v);
		report_hint(r, "bind single devices by address instead: iopass attach BDF");
	}
}

/* Devices persisted for boot that are not on vfio-pci now, or not there at all. */
static void check_persisted(struct iopass_ctx *ctx, struct iopass_report *r)
{
	struct iopass_persist *p = NULL;
	struct iopass_devlist *list = NULL;
	int rc = iopass_persist_load(ctx, &p);

	if (rc < 0) {
		report_add(r, IOPASS_LEVEL_WARN, "persist-corrupt",
			   "/etc/iopass/persist cannot be used: %s",
			   rc == -EBADMSG ? "it is corrupt" : strerror(-rc));
		report_hint(r, "inspect it; 'iopass persist list' shows what it should hold");
		return;
	}
	if (iopass_persist_count(p) == 0 || iopass_scan(ctx, &list) < 0) {
		iopass_persist_free(p);
		return;
	}
	for (size_t i = 0; i < iopass_persist_count(p); i++) {
		enum iopass_persist_state s = iopass_persist_state(p, i, list);

		if (s == IOPASS_PERSIST_ACTIVE)
			continue;
		report_add(r, IOPASS_LEVEL_WARN, "persist-not-in-effect",
			   "%s [%s] is persisted for %s but %s",
			   iopass_persist_bdf(p, i), iopass_persist_ids(p, i), iopass_persist_driver(p, i),
			   s == IOPASS_PERSIST_MOVED ? "another card sits at that address now (left alone)"
			   : s == IOPASS_PERSIST_ABSENT ? "no device is at that address"
							: "it is not on that driver now");
		if (s == IOPASS_PERSIST_INACTIVE)
			report_hint(r, "the rule applies at the next boot or hotplug; 'iopass attach %s' "
				       "does it now", iopass_persist_bdf(p, i));
		else
			report_hint(r, "drop it with 'iopass persist remove %s'", iopass_persist_bdf(p, i));
	}
	iopass_devlist_free(list);
	iopass_persist_free(p);
}

int iopass_check_host(struct iopass_ctx *ctx, struct iopass_report **ret_report)
{
	struct iopass_report *r = report_new();
	_cleanup_free_ char *cmdline = NULL;
	int ngroups;

	if (!r)
		return -ENOMEM;
	if (sysfs_read_file(ctx, "/proc/cmdline", 1 << 20, &cmdline) < 0)
		cmdline = NULL;
	ngroups = iopass_iommu_group_count(ctx);
	if (ngroups < 0)
		ngroups = 0;
	check_iommu(ctx, r, cmdline ? cmdline : "", ngroups);
	check_irq_remap(ctx, r, ngroups);
	check_modules(ctx, r);
	check_cmdline_extras(r, cmdline ? cmdline : "");
	check_persisted(ctx, r);
	if (report_oom(r)) {
		iopass_report_free(r);
		return -ENOMEM;
	}
	*ret_report = r;
	return 0;
}

/* ---- devices ------------------------------------------------------------- */

/* REQ_ACS_FLAGS (drivers/iommu/iommu.c): what a port must enforce to keep its children apart */
#define ACS_REQUIRED (PCI_ACS_CTRL_VALID | PCI_ACS_CTRL_REQ_RED | PCI_ACS_CTRL_CMPLT_RED | \
		      PCI_ACS_CTRL_FORWARD)
#define PCI_EXP_TYPE_PCIE_BRIDGE_ 0x8 /* PCI/PCI-X to PCIe bridge */
#define PCI_EXP_TYPE_RC_END_ 0x9      /* root complex integrated endpoint */

/*
 * The kernel's ACS quirks (pci_dev_acs_enabled[] in drivers/pci/quirks.c,
 * consulted first by pci_acs_enabled() in drivers/pci/pci.c): devices that
 * isolate without a (standard) ACS capability. Ranges of device IDs, any
 * device with lo 0 and hi 0xffff.
 */
enum acs_quirk_kind {
	QUIRK_PORT,        /* root ports that isolate (pci_quirk_qcom_rp_acs and the like) */
	QUIRK_PORT_DSP,    /* root and switch downstream ports (pci_quirk_zhaoxin_pcie_ports_acs) */
	QUIRK_INTEL_PCH,   /* pci_quirk_intel_pch_acs: isolates once the kernel's workaround ran */
	QUIRK_INTEL_SPT,   /* pci_quirk_intel_spt_pch_acs: ACS control at +8, as a dword */
	QUIRK_MF_ENDPOINT, /* pci_quirk_mf_endpoint_acs: functions that never talk to each other */
	QUIRK_RCIEP,       /* pci_quirk_rciep_acs: Intel root complex integrated endpoints */
};

static const struct acs_quirk {
	uint16_t vendor, lo, hi;
	enum acs_quirk_kind kind;
} acs_quirks[] = {
	{ 0x1924, 0x0903, 0x0903, QUIRK_MF_ENDPOINT }, /* Solarflare */
	{ 0x1924, 0x0923, 0x0923, QUIRK_MF_ENDPOINT },
	{ 0x1924, 0x0a03, 0x0a03, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x10c6, 0x10c6, QUIRK_MF_ENDPOINT }, /* Intel NICs */
	{ 0x8086, 0x10db, 0x10db, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x10dd, 0x10dd, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x10e1, 0x10e1, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x10f1, 0x10f1, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x10f7, 0x10fc, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x1507, 0x1507, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x1514, 0x1514, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x151c, 0x151c, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x1529, 0x152a, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x154d, 0x154d, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x154f, 0x154f, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x1551, 0x1551, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x1558, 0x1558, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x1509, 0x1509, QUIRK_MF_ENDPOINT }, /* 82580 */
	{ 0x8086, 0x150e, 0x1511, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x1516, 0x1516, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x1527, 0x1527, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x10c9, 0x10c9, QUIRK_MF_ENDPOINT }, /* 82576 */
	{ 0x8086, 0x10e6, 0x10e8, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x150a, 0x150a, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x150d, 0x150d, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x1518, 0x1518, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x1526, 0x1526, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x10a7, 0x10a7, QUIRK_MF_ENDPOINT }, /* 82575 */
	{ 0x8086, 0x10a9, 0x10a9, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x10d6, 0x10d6, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x1521, 0x1524, QUIRK_MF_ENDPOINT }, /* I350 */
	{ 0x8086, 0x105e, 0x1060, QUIRK_MF_ENDPOINT }, /* 82571 */
	{ 0x8086, 0x10d9, 0x10d9, QUIRK_MF_ENDPOINT },
	{ 0x8086, 0x15b7, 0x15b8, QUIRK_MF_ENDPOINT }, /* I219 */
	{ 0x8086, 0x0000, 0xffff, QUIRK_RCIEP },
	{ 0x17cb, 0x0400, 0x0401, QUIRK_PORT }, /* QCOM QDF2xxx */
	{ 0x17cb, 0x0115, 0x0115, QUIRK_PORT }, /* QCOM SA8775P */
	{ 0x17cb, 0x0111, 0x0111, QUIRK_PORT }, /* QCOM Hamoa */
	{ 0x17cb, 0x0120, 0x0120, QUIRK_PORT }, /* QCOM Glymur */
	{ 0x1dbf, 0x0401, 0x0401, QUIRK_PORT }, /* HXT SD4800 */
	{ 0x8086, 0x3b42, 0x3b51, QUIRK_INTEL_PCH }, /* Ibexpeak */
	{ 0x8086, 0x1c10, 0x1c1f, QUIRK_INTEL_PCH }, /* Cougarpoint */
	{ 0x8086, 0x1e10, 0x1e1f, QUIRK_INTEL_PCH }, /* Pantherpoint */
	{ 0x8086, 0x8c10, 0x8c1f, QUIRK_INTEL_PCH }, /* Lynxpoint-H */
	{ 0x8086, 0x9c10, 0x9c1b, QUIRK_INTEL_PCH }, /* Lynxpoint-LP */
	{ 0x8086, 0x9c90, 0x9c9b, QUIRK_INTEL_PCH }, /* Wildcat */
	{ 0x8086, 0x1d10, 0x1d10, QUIRK_INTEL_PCH }, /* Patsburg (X79): even IDs only */
	{ 0x8086, 0x1d12, 0x1d12, QUIRK_INTEL_PCH },
	{ 0x8086, 0x1d14, 0x1d14, QUIRK_INTEL_PCH },
	{ 0x8086, 0x1d16, 0x1d16, QUIRK_INTEL_PCH },
	{ 0x8086, 0x1d18, 0x1d18, QUIRK_INTEL_PCH },
	{ 0x8086, 0x1d1a, 0x1d1a, QUIRK_INTEL_PCH },
	{ 0x8086, 0x1d1c, 0x1d1c, QUIRK_INTEL_PCH },
	{ 0x8086, 0x1d1e, 0x1d1e, QUIRK_INTEL_PCH },
	{ 0x8086, 0x8d10, 0x8d1e, QUIRK_INTEL_PCH }, /* Wellsburg (X99) */
	{ 0x8086, 0x8c90, 0x8c90, QUIRK_INTEL_PCH }, /* Lynx Point (9 series): even IDs only */
	{ 0x8086, 0x8c92, 0x8c92, QUIRK_INTEL_PCH },
	{ 0x8086, 0x8c94, 0x8c94, QUIRK_INTEL_PCH },
	{ 0x8086, 0x8c96, 0x8c96, QUIRK_INTEL_PCH },
	{ 0x8086, 0x8c98, 0x8c98, QUIRK_INTEL_PCH },
	{ 0x8086, 0x8c9a, 0x8c9a, QUIRK_INTEL_PCH },
	{ 0x8086, 0x8c9c, 0x8c9c, QUIRK_INTEL_PCH },
	{ 0x8086, 0x8c9e, 0x8c9e, QUIRK_INTEL_PCH },
	{ 0x8086, 0xa110, 0xa11f, QUIRK_INTEL_SPT }, /* Sunrise Point-H */
	{ 0x8086, 0xa167, 0xa16a, QUIRK_INTEL_SPT },
	{ 0x8086, 0xa290, 0xa29f, QUIRK_INTEL_SPT }, /* Union Point */
	{ 0x8086, 0xa2e7, 0xa2ee, QUIRK_INTEL_SPT },
	{ 0x8086, 0x9d10, 0x9d1b, QUIRK_INTEL_SPT }, /* 7th and 8th generation mobile */
	{ 0x19a2, 0x0710, 0x0710, QUIRK_MF_ENDPOINT }, /* Emulex BE3-R */
	{ 0x10df, 0x0720, 0x0720, QUIRK_MF_ENDPOINT }, /* Emulex Skyhawk-R */
	{ 0x177d, 0xa026, 0xa026, QUIRK_MF_ENDPOINT }, /* Cavium */
	{ 0x177d, 0xa059, 0xa060, QUIRK_MF_ENDPOINT },
	{ 0x10e8, 0xe004, 0xe004, QUIRK_PORT }, /* APM X-Gene */
	{ 0x1def, 0xe005, 0xe00c, QUIRK_PORT }, /* Ampere */
	{ 0x14e4, 0x16d7, 0x16d7, QUIRK_MF_ENDPOINT }, /* Broadcom */
	{ 0x14e4, 0x1750, 0x1752, QUIRK_MF_ENDPOINT },
	{ 0x14e4, 0x1760, 0x1763, QUIRK_MF_ENDPOINT },
	{ 0x14e4, 0xd714, 0xd714, QUIRK_PORT }, /* Broadcom iProc PAXB */
	{ 0x0014, 0x3c09, 0x3c09, QUIRK_PORT }, /* Loongson */
	{ 0x0014, 0x3c19, 0x3c19, QUIRK_PORT },
	{ 0x0014, 0x3c29, 0x3c29, QUIRK_PORT },
	{ 0x0014, 0x7a09, 0x7a09, QUIRK_PORT },
	{ 0x0014, 0x7a19, 0x7a19, QUIRK_PORT },
	{ 0x0014, 0x7a29, 0x7a29, QUIRK_PORT },
	{ 0x0014, 0x7a39, 0x7a39, QUIRK_PORT },
	{ 0x0014, 0x7a49, 0x7a49, QUIRK_PORT },
	{ 0x0014, 0x7a59, 0x7a59, QUIRK_PORT },
	{ 0x0014, 0x7a69, 0x7a69, QUIRK_PORT },
	{ 0x1c36, 0x0031, 0x0031, QUIRK_PORT }, /* Amazon Annapurna Labs */
	{ 0x1d17, 0x3038, 0x3038, QUIRK_MF_ENDPOINT }, /* Zhaoxin */
	{ 0x1d17, 0x3104, 0x3104, QUIRK_MF_ENDPOINT },
	{ 0x1d17, 0x9083, 0x9083, QUIRK_MF_ENDPOINT },
	{ 0x1957, 0x8d80, 0x8d83, QUIRK_PORT }, /* NXP LX2xx0 */
	{ 0x1957, 0x8da0, 0x8da1, QUIRK_PORT },
	{ 0x1957, 0x8d90, 0x8d93, QUIRK_PORT },
	{ 0x1957, 0x8db0, 0x8db1, QUIRK_PORT },
	{ 0x1957, 0x8d88, 0x8d8b, QUIRK_PORT }, /* NXP LX2xx2 */
	{ 0x1957, 0x8da8, 0x8da9, QUIRK_PORT },
	{ 0x1957, 0x8d98, 0x8d9b, QUIRK_PORT },
	{ 0x1957, 0x8db8, 0x8db9, QUIRK_PORT },
	{ 0x1d17, 0x0710, 0x071e, QUIRK_PORT_DSP }, /* Zhaoxin root and downstream ports */
	{ 0x1d17, 0x0721, 0x0721, QUIRK_PORT_DSP },
	{ 0x1d17, 0x0723, 0x0752, QUIRK_PORT_DSP },
	{ 0x8088, 0x0100, 0x010f, QUIRK_MF_ENDPOINT }, /* Wangxun NICs */
	{ 0x8088, 0x1001, 0x1001, QUIRK_MF_ENDPOINT },
	{ 0x8088, 0x2001, 0x2001, QUIRK_MF_ENDPOINT },
	{ 0x8088, 0x5010, 0x5010, QUIRK_MF_ENDPOINT },
	{ 0x8088, 0x5025, 0x5025, QUIRK_MF_ENDPOINT },
	{ 0x8088, 0x5040, 0x5040, QUIRK_MF_ENDPOINT },
	{ 0x8088, 0x5110, 0x5110, QUIRK_MF_ENDPOINT },
	{ 0x8088, 0x5125, 0x5125, QUIRK_MF_ENDPOINT },
	{ 0x8088, 0x5140, 0x5140, QUIRK_MF_ENDPOINT },
};

/* The quirk the kernel applies to dev, as pci_dev_specific_acs_enabled() finds it, or NULL. */
static const struct acs_quirk *acs_quirk_of(const struct iopass_dev *dev, const struct dev_caps *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(acs_quirks); i++) {
		const struct acs_quirk *q = &acs_quirks[i];

		if (q->vendor != dev->vendor || dev->device < q->lo || dev->device > q->hi)
			continue;
		/* the quirk functions that look at the port type answer -ENOTTY for others */
		if ((q->kind == QUIRK_PORT || q->kind == QUIRK_INTEL_PCH || q->kind == QUIRK_INTEL_SPT) &&
		    c->pcie_type != PCI_EXP_TYPE_ROOT_PORT)
			continue;
		if (q->kind == QUIRK_PORT_DSP && c->pcie_type != PCI_EXP_TYPE_ROOT_PORT &&
		    c->pcie_type != PCI_EXP_TYPE_DOWNSTREAM)
			continue;
		if (q->kind == QUIRK_RCIEP && c->pcie_type != PCI_EXP_TYPE_RC_END_)
			continue;
		if (q->kind == QUIRK_INTEL_SPT && !c->acs)
			continue;
		return q;
	}
	return NULL;
}

/*
 * The ACS controls required of dev (ACS_REQUIRED) that it does not enforce, as
 * pci_acs_flags_enabled() counts them: only what its capability offers is
 * required ("features missing from the capability field can be assumed as
 * hard-wired enabled"). 0: it isolates. *quirk: the kernel quirk that decided.
 */
static uint16_t acs_missing(const struct iopass_dev *dev, const struct dev_caps *c,
			    const struct acs_quirk **quirk)
{
	const struct acs_quirk *q = acs_quirk_of(dev, c);
	uint16_t ctrl = c->acs_ctrl;

	*quirk = q;
	if (q && q->kind != QUIRK_INTEL_SPT)
		return 0; /* the quirk provides SV/RR/CR/UF (the PCH one once its workaround ran) */
	if (!c->acs)
		return ACS_REQUIRED;
	if (q)
		ctrl = c->acs_ctrl_dword; /* Sunrise Point: the control is the dword at +8 */
	return (uint16_t)(ACS_REQUIRED & (c->acs_cap | PCI_ACS_CTRL_EGRESS) & ~ctrl);
}

static bool in_set(const struct iopass_dev *d, struct iopass_dev *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == d)
			return true;
	return false;
}

/*
 * A group member the kernel lets share the group with a VFIO user: unbound, on a vfio
 * driver, or on a driver_managed_dma one (pcieport, drivers/pci/pcie/portdrv.c; pci-stub).
 * Any other driver took the group's default DMA domain when it bound
 * (pci_dma_configure() in drivers/pci/pci-driver.c calls
 * iommu_device_use_default_domain()), and VFIO's claim of the group then fails
 * with EBUSY: bridges included.
 */
static bool driver_keeps_group_viable(const struct iopass_dev *d)
{
	return !d->driver || iopass_dev_is_vfio(d) || streq(d->driver, "pcieport") ||
	       streq(d->driver, "pci-stub");
}

static const char *port_kind(const struct dev_caps *c)
{
	switch (c->pcie_type) {
	case PCI_EXP_TYPE_ROOT_PORT:
		return "root port";
	case PCI_EXP_TYPE_DOWNSTREAM:
		return "switch downstream port";
	case PCI_EXP_TYPE_UPSTREAM:
		return "switch upstream port";
	case PCI_EXP_TYPE_PCI_BRIDGE:
		return "PCIe-to-PCI bridge";
	case PCI_EXP_TYPE_PCIE_BRIDGE_:
		return "PCI/PCI-X-to-PCIe bridge";
	case -1:
		return "conventional PCI bridge";
	default:
		return "bridge";
	}
}

static void acs_missing_names(uint16_t missing, char *buf, size_t size)
{
	static const struct {
		uint16_t bit;
		const char *name;
	} bits[] = { { PCI_ACS_CTRL_VALID, "SV" }, { PCI_ACS_CTRL_REQ_RED, "RR" },
		     { PCI_ACS_CTRL_CMPLT_RED, "CR" }, { PCI_ACS_CTRL_FORWARD, "UF" } };
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(bits); i++)
		if ((missing & bits[i].bit) && len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "/" : "", bits[i].name);
}

/*
 * Why is the group shared? The kernel joins a device to the group of the
 * first upstream bridge that cannot isolate it (pci_device_group() in
 * drivers/iommu/iommu.c: a bridge to conventional PCI or PCI-X aliases DMA, a
 * root or downstream port without the required ACS, by pci_acs_enabled() and
 * its quirks), and joins the functions of a multifunction device that lacks
 * ACS. Report the first such cause, as the kernel sees it.
 */
static void explain_group(const struct iopass_devlist *list, struct iopass_dev *dev,
			  struct iopass_report *r, const char *others)
{
	const struct dev_caps *c = dev_get_caps(dev);
	const struct acs_quirk *q = NULL;
	const struct iopass_dev *pch = NULL;
	struct iopass_dev *p;
	char bits[32];
	bool mf_peer = false;

	struct iopass_dev *const *slot;
	size_t nslot = devlist_bus(list, dev, true, &slot);

	for (size_t i = 0; i < nslot; i++)
		if (slot[i] != dev && slot[i]->group == dev->group)
			mf_peer = true;
	if (!c || !c->caps_ok) {
		/* 64 bytes of config (not root): no capability to judge by, on any bus */
		report_add(r, IOPASS_LEVEL_INFO, "group-shared",
			   "shares group %d with %s; the config space of %s could not be read to say "
			   "why (run as root)", dev->group, others, dev->bdf);
		return;
	}
	/* pci_acs_enabled(): a conventional PCI function never isolates; a PCIe one as ACS says */
	if (mf_peer && (c->pcie_type < 0 || acs_missing(dev, c, &q))) {
		report_add(r, IOPASS_LEVEL_INFO, "multifunction-no-acs",
			   "shares group %d with %s: the functions of this device have no ACS, so the "
			   "kernel cannot isolate them from each other", dev->group, others);
		report_hint(r, "pass all functions through together");
		/* go on: a port without ACS above may widen the group further */
	}
	for (p = iopass_dev_get_parent(dev, list); p; p = iopass_dev_get_parent(p, list)) {
		const struct dev_caps *pc = dev_get_caps(p);
		uint16_t missing;

		if (!pc || !pc->caps_ok) {
			report_add(r, IOPASS_LEVEL_INFO, "group-shared",
				   "shares group %d with %s; the config space of bridge %s could not be "
				   "read to say why (run as root)", dev->group, others, p->bdf);
			return;
		}
		if (pc->pcie_type == -1 || pc->pcie_type == PCI_EXP_TYPE_PCI_BRIDGE ||
		    pc->pcie_type == PCI_EXP_TYPE_PCIE_BRIDGE_) {
			report_add(r, IOPASS_LEVEL_INFO, "pci-bridge",
				   "shares group %d with %s because %s %s cannot isolate its children",
				   dev->group, others, port_kind(pc), p->bdf);
			report_hint(r, "move the card to a slot on a CPU root port");
			return;
		}
		if (pc->pcie_type != PCI_EXP_TYPE_ROOT_PORT && pc->pcie_type != PCI_EXP_TYPE_DOWNSTREAM)
			continue;
		missing = acs_missing(p, pc, &q);
		if (!missing) {
			if (q && q->kind == QUIRK_INTEL_PCH)
				pch = p;
			continue;
		}
		if (!pc->acs) {
			report_add(r, IOPASS_LEVEL_INFO, "no-acs",
				   "shares group %d with %s because %s %s has no ACS capability",
				   dev->group, others, port_kind(pc), p->bdf);
			report_hint(r, "move the card to a slot whose port has ACS (on most boards the "
				       "CPU's root ports, not the chipset's)");
			return;
		}
		acs_missing_names(missing, bits, sizeof(bits));
		report_add(r, IOPASS_LEVEL_INFO, "acs-disabled",
			   "shares group %d with %s because %s %s has ACS with %s off",
			   dev->group, others, port_kind(pc), p->bdf, bits);
		/* pci_std_enable_acs() turns on every control the capability offers once an IOMMU asks */
		report_hint(r, "the kernel enables every ACS control a port offers when the IOMMU is "
			       "on: check that it is, and that the command line has no "
			       "pci=disable_acs_redir= or pci=config_acs= for this port");
		return;
	}
	if (mf_peer)
		return;
	if (pch)
		report_add(r, IOPASS_LEVEL_INFO, "group-shared",
			   "shares group %d with %s; root port %s has no ACS capability but isolates "
			   "through the kernel's Intel PCH workaround, unless the kernel log says "
			   "\"Failed to enable Intel PCH ACS quirk\" (then it joins them)",
			   dev->group, others, pch->bdf);
	else
		report_add(r, IOPASS_LEVEL_INFO, "group-shared",
			   "shares group %d with %s; no bridge without ACS found on the path (a DMA "
			   "alias or a platform quirk joins them)", dev->group, others);
}

/*
 * Every function on the device's bus is in the set and a bridge above can reset
 * the bus: QEMU then resets them together (vfio_pci_hot_reset() in QEMU's
 * hw/vfio/pci.c), which the kernel allows when one user owns every device the
 * reset touches (vfio_pci_dev_set_hot_reset(), drivers/vfio/pci/vfio_pci_core.c).
 * A GPU and its audio function alone on their bus are such a set.
 */
static bool set_covers_bus(const struct iopass_devlist *list, struct iopass_dev *dev,
			   struct iopass_dev *const *set, size_t nset)
{
	struct iopass_dev *const *bus;
	size_t n = devlist_bus(list, dev, false, &bus);

	if (n < 2 || !iopass_dev_get_parent(dev, list))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!in_set(bus[i], set, nset))
			return false;
	return true;
}

static void report_set_reset(struct iopass_report *r, const struct iopass_dev *dev, const char *why)
{
	report_add(r, IOPASS_LEVEL_OK, "reset-bus-set",
		   "%s, but every function on bus %02x is passed through in this set: QEMU resets "
		   "them together with a bus reset through the bridge above", why, dev->addr.bus);
}

/*
 * The kernel's reset quirks (drivers/pci/quirks.c), for kernels that do not
 * list reset_method (before 5.15), where iopass derives the method from config
 * space as pci_init_reset_methods() would: the device-specific methods of
 * pci_dev_reset_methods[], and the devices whose FLR (quirk_no_flr), PM reset
 * (quirk_no_pm_reset) or bus reset (quirk_no_bus_reset) must not be used.
 */
static bool reset_device_specific(const struct iopass_dev *d, const struct dev_caps *c)
{
	static const struct {
		uint16_t vendor, device;
	} ids[] = {
		{ 0x8086, 0x10ed }, /* 82599 SFP VF: reset_intel_82599_sfp_virtfn */
		{ 0x8086, 0x0156 }, /* Ivy Bridge IGD: reset_ivb_igd */
		{ 0x8086, 0x0166 },
		{ 0x8086, 0x0953 }, /* delay_250ms_after_flr */
		{ 0x8086, 0x0a54 },
		{ 0x025e, 0xf1ac }, /* Solidigm */
		{ 0x19e5, 0x375e }, /* Huawei HiNIC VF: reset_hinic_vf_dev */
	};

	for (size_t i = 0; i < ARRAY_SIZE(ids); i++)
		if (d->vendor == ids[i].vendor && d->device == ids[i].device)
			return true;
	if (d->vendor == 0x1425 && (d->device & 0xf000) == 0x4000)
		return true; /* Chelsio T4: reset_chelsio_generic_dev */
	/* Samsung 0xa804: nvme_disable_and_flr, an NVMe class device with FLR */
	return d->vendor == 0x144d && d->device == 0xa804 && d->class == 0x010802 && c->flr;
}

static bool reset_no_flr(const struct iopass_dev *d)
{
	return (d->vendor == 0x1022 && (d->device == 0x1487 || d->device == 0x148c ||
					d->device == 0x149c || d->device == 0x7901)) ||
	       (d->vendor == 0x8086 && (d->device == 0x1502 || d->device == 0x1503)) ||
	       (d->vendor == 0x14c3 && d->device == 0x0616);
}

static bool reset_no_pm(const struct iopass_dev *d, bool root_bus)
{
	if (root_bus)
		return false; /* quirk_no_pm_reset leaves devices on a root bus alone */
	return (d->vendor == 0x1002 && (d->class >> 8) == 0x0300) ||
	       (d->vendor == 0x15b3 && (d->device == 0xcb84 || d->device == 0xcf6c ||
					d->device == 0xcf70 || d->device == 0xcf80));
}

static bool reset_no_bus(const struct iopass_dev *d)
{
	switch (d->vendor) {
	case 0x10de: /* NVIDIA: 0x2340-0x237f (quirk_nvidia_no_bus_reset), GB10 root ports */
		return (d->device & 0xffc0) == 0x2340 || d->device == 0x22ce || d->device == 0x22d0;
	case 0x168c: /* Atheros wireless */
		return d->device == 0x0030 || d->device == 0x0032 || d->device == 0x0033 ||
		       d->device == 0x0034 || d->device == 0x003c || d->device == 0x003e;
	case 0x177d:
		return d->device == 0xa100;
	case 0x104c:
		return d->device == 0xb005;
	case 0x1b21:
		return d->device == 0x1164;
	default:
		return false;
	}
}

/*
 * AMD GPUs whose advertised resets (bus, pm) leave them unable to start a
 * second time in a guest, "the AMD reset bug": the device table of the
 * vendor-reset module (github.com/gnif/vendor-reset, src/device-db.h), whose
 * loaded module provides a device_specific reset that works for them. The
 * kernel uses device_specific only when it comes first in reset_method
 * (__pci_reset_function_locked() tries the methods in that order).
 */
static const char *reset_bug_family(const struct iopass_dev *d)
{
	static const struct {
		const char *family;
		uint16_t ids[16];
	} amd[] = {
		{ "Polaris 10", { 0x67c0, 0x67c1, 0x67c2, 0x67c4, 0x67c7, 0x67d0, 0x67df, 0x67c8,
				  0x67c9, 0x67ca, 0x67cc, 0x67cf, 0x6fdf } },
		{ "Polaris 11", { 0x67e0, 0x67e3, 0x67e8, 0x67eb, 0x67ef, 0x67ff, 0x67e1, 0x67e7,
				  0x67e9 } },
		{ "Polaris 12", { 0x6980, 0x6981, 0x6985, 0x6986, 0x6987, 0x6995, 0x6997, 0x699f } },
		{ "Vega 10", { 0x6860, 0x6861, 0x6862, 0x6863, 0x6864, 0x6867, 0x6868, 0x6869, 0x686a,
			       0x686b, 0x686c, 0x686d, 0x686e, 0x686f, 0x687f } },
		{ "Vega 20", { 0x66a0, 0x66a1, 0x66a2, 0x66a3, 0x66a4, 0x66a7, 0x66af } },
		{ "Navi 10", { 0x7310, 0x7312, 0x7318, 0x7319, 0x731a, 0x731b, 0x731e, 0x731f } },
		{ "Navi 12", { 0x7360, 0x7362 } },
		{ "Navi 14", { 0x7340, 0x7341, 0x7347, 0x734f } },
		{ "Arcturus", { 0x738c } },
	};

	if (d->vendor != 0x1002)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(amd); i++)
		for (size_t k = 0; k < ARRAY_SIZE(amd[i].ids) && amd[i].ids[k]; k++)
			if (d->device == amd[i].ids[k])
				return amd[i].family;
	return NULL;
}

/*
 * A GPU of that table without the device-specific reset in front: warn, with
 * the fix. Before 5.15 there is no reset_method: vendor-reset, once loaded,
 * hooks the device-specific reset that the kernel tries first, so the module
 * being there is the fix.
 */
static void check_reset_bug(const struct iopass_dev *dev, const char *methods, ssize_t n,
			    struct iopass_report *r)
{
	const char *family = reset_bug_family(dev);
	char first[32] = "";

	if (!family)
		return;
	if (n > 0)
		sscanf(methods, "%31s", first);
	if (streq(first, "device_specific"))
		return;
	if (n < 0 && sysfs_exists(dev->ctx, "/sys/module/vendor_reset") == 0)
		return;
	report_add(r, IOPASS_LEVEL_WARN, "reset-bug",
		   "an AMD %s GPU, whose advertised resets do not reset it (%s%s): a second VM "
		   "start, or a guest reboot, may hang or find it dead (the AMD reset bug; "
		   "vendor-reset lists it)", family,
		   n > 0 ? "reset_method: " : n == 0 ? "reset_method is empty"
						     : "no reset_method: a kernel before 5.15",
		   n > 0 ? methods : "");
	if (n < 0)
		report_hint(r, "load the vendor-reset module (modprobe vendor-reset): it replaces the "
			       "device-specific reset, which the kernel tries first");
	else
		report_hint(r, "load the vendor-reset module (modprobe vendor-reset) and put its reset "
			       "first: echo device_specific > /sys/bus/pci/devices/%s/reset_method",
			    dev->bdf);
}

/* reset_method names (drivers/pci/pci.c pci_reset_fn_methods[]) and their codes */
static const struct {
	const char *method, *code, *what;
} reset_kinds[] = {
	{ "device_specific", "reset-device-specific", "a device-specific reset (drivers/pci/quirks.c)" },
	{ "acpi", "reset-acpi", "the firmware's ACPI _RST method" },
	{ "flr", "reset-flr", "function level reset (FLR)" },
	{ "af_flr", "reset-af-flr", "function level reset through the Advanced Features capability" },
	{ "pm", "reset-pm", "power management reset (D3hot to D0)" },
	{ "bus", "reset-bus", "secondary bus reset (alone on its bus)" },
	{ "cxl_bus", "reset-cxl-bus", "CXL bus reset" },
};

static size_t reset_kind(const char *method)
{
	for (size_t i = 0; i < ARRAY_SIZE(reset_kinds); i++)
		if (streq(method, reset_kinds[i].method))
			return i;
	return SIZE_MAX;
}

/* "flr bus" as "flr is function level reset (FLR); bus is ...": each method and what it is */
static void explain_reset_methods(const char *methods, char *buf, size_t size)
{
	char copy[256], *save = NULL;
	size_t len = 0;

	snprintf(copy, sizeof(copy), "%s", methods);
	buf[0] = '\0';
	for (char *w = strtok_r(copy, " ", &save); w && len < size; w = strtok_r(NULL, " ", &save)) {
		size_t k = reset_kind(w);

		len += (size_t)snprintf(buf + len, size - len, "%s%s is %s", len ? "; " : "", w,
					k == SIZE_MAX ? "a method this release does not know" : reset_kinds[k].what);
	}
}

/*
 * Can the device be reset between guests, and how? The kernel uses the first
 * method of reset_method that works (pci_reset_function()); the finding's code
 * names that kind (reset-flr, reset-pm, ...).
 */
static void check_reset(const struct iopass_devlist *list, struct iopass_dev *dev,
			struct iopass_dev *const *set, size_t nset, struct iopass_report *r)
{
	char path[64 + IOPASS_BDF_MAX], methods[256], first[32] = "";
	const struct dev_caps *c;
	bool alone = true, covered = set_covers_bus(list, dev, set, nset);
	struct iopass_dev *parent;
	size_t k;
	ssize_t n;

	struct iopass_dev *const *bus;

	alone = devlist_bus(list, dev, false, &bus) <= 1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset_method", dev->bdf);
	n = sysfs_read(dev->ctx, path, methods, sizeof(methods));
	check_reset_bug(dev, methods, n, r);
	if (n > 0) {
		sscanf(methods, "%31s", first);
		k = reset_kind(first);
		if (streq(methods, "bus") && !alone && covered) {
			report_set_reset(r, dev, "its only reset is a bus reset");
		} else if (streq(methods, "bus") && !alone) {
			report_add(r, IOPASS_LEVEL_WARN, "reset-bus-only",
				   "the only reset is a bus reset (reset_method: bus), which resets every "
				   "device on bus %02x as well", dev->addr.bus);
			report_hint(r, "pass the other devices on the bus through too, or expect reset "
				       "to fail while the host uses them");
		} else {
			char said[768];

			explain_reset_methods(methods, said, sizeof(said));
			report_add(r, IOPASS_LEVEL_OK, k == SIZE_MAX ? "reset-other" : reset_kinds[k].code,
				   "reset_method lists %s, tried in this order: %s", methods, said);
		}
		return;
	}
	if (n == 0 && covered) {
		report_set_reset(r, dev, "no reset of its own (reset_method is empty)");
		return;
	}
	if (n == 0) {
		report_add(r, IOPASS_LEVEL_WARN, "no-reset",
			   "reset_method is empty: the device cannot be reset between guests");
		report_hint(r, "state can leak between VMs and a second VM start may fail; a "
			       "vendor reset module (vendor-reset) may help for some GPUs");
		return;
	}
	/* kernels before 5.15 have no reset_method: judge from config space, as the kernel would */
	c = dev_get_caps(dev);
	parent = iopass_dev_get_parent(dev, list);
	if (!c || !c->caps_ok) {
		report_add(r, IOPASS_LEVEL_INFO, "reset-unknown",
			   "reset capabilities unknown: config space not readable (run as root)");
		return;
	}
	if (reset_device_specific(dev, c))
		k = reset_kind("device_specific");
	else if ((dev->physfn || c->flr) && !reset_no_flr(dev))
		k = reset_kind("flr");
	else if (c->af_flr && !reset_no_flr(dev))
		k = reset_kind("af_flr");
	else if (c->pm && !c->pm_no_soft_reset && !reset_no_pm(dev, !parent))
		k = reset_kind("pm");
	else if (alone && parent && !reset_no_bus(dev))
		k = reset_kind("bus");
	else
		k = SIZE_MAX;
	if (k != SIZE_MAX) {
		report_add(r, IOPASS_LEVEL_OK, reset_kinds[k].code, "%s", reset_kinds[k].what);
	} else if (covered) {
		report_set_reset(r, dev, "no FLR and no PM reset");
	} else {
		report_add(r, IOPASS_LEVEL_WARN, "no-reset",
			   "no FLR, no PM reset (NoSoftRst set, no PM capability, or a kernel quirk "
			   "against it) and no bus reset of its own: the device cannot be reset "
			   "between guests");
		report_hint(r, "state can leak between VMs and a second VM start may fail");
	}
}

/*
 * The vfio driver attach would bind (variant.c): a variant's alias, the most
 * specific match, or vfio-pci for want of one, and why. A device on a vfio
 * driver already stays there; when a variant would fit it better, say so.
 */
static void check_vfio_driver(const struct iopass_dev *dev, struct iopass_report *r)
{
	struct iopass_vfio_choice c;
	bool on_vfio = iopass_dev_is_vfio(dev);

	if (iopass_dev_vfio_driver(dev, NULL, &c) < 0)
		return;
	if (on_vfio && streq(c.driver, dev->driver))
		return; /* "attached" says it */
	if (*c.module && !streq(c.driver, "vfio-pci")) {
		report_add(r, IOPASS_LEVEL_OK, "vfio-variant",
			   "%s the vfio variant driver %s: its alias %s is the most specific "
			   "match of vfio_pci:v%08Xd%08Xsv%08Xsd%08X... in modules.alias of %s (%d "
			   "wildcards)", on_vfio ? "on vfio-pci, while attach would bind" : "attach binds",
			   c.driver, c.alias, dev->vendor, dev->device, dev->subvendor, dev->subdevice,
			   c.release, c.wildcards);
		if (on_vfio)
			report_hint(r, "detach it and attach it again to bind %s (live migration, "
				       "device memory)", c.driver);
		else
			report_hint(r, "a variant driver adds what vfio-pci lacks for this device (live "
				       "migration, device memory); to bind the generic driver, choose "
				       "vfio-pci");
		return;
	}
	if (on_vfio)
		return; /* on a variant no alias names: the user's choice */
	if (c.ids_unread)
		report_add(r, IOPASS_LEVEL_OK, "vfio-driver",
			   "attach binds vfio-pci: the device's IDs could not be read, so no vfio variant "
			   "driver can be matched");
	else if (c.index_error)
		report_add(r, IOPASS_LEVEL_OK, "vfio-driver",
			   "attach binds vfio-pci: modules.alias of kernel %s could not be read (%s), so "
			   "no vfio variant driver can be chosen", *c.release ? c.release : "(unknown)",
			   strerror(-c.index_error));
	else
		report_add(r, IOPASS_LEVEL_OK, "vfio-driver",
			   "attach binds vfio-pci: no vfio variant driver's alias in modules.alias of %s "
			   "matches it", c.release);
}

static void check_group_open(struct iopass_ctx *ctx, struct iopass_dev *dev, struct iopass_report *r)
{
	char pids[256];

	if (vfio_group_users(ctx, dev->group, pids, sizeof(pids)))
		report_add(r, IOPASS_LEVEL_INFO, "group-open",
			   "group %d is open by %s: a VM is using it", dev->group, pids);
}

static void check_sriov_pf(const struct iopass_devlist *list, struct iopass_dev *dev,
			   struct iopass_report *r)
{
	char users[512] = "";
	size_t len = 0;

	if (dev->numvfs <= 0)
		return;
	struct iopass_dev *const *vfs;
	size_t nvfs = devlist_vfs(list, dev, &vfs);

	for (size_t i = 0; i < nvfs; i++) {
		const struct iopass_dev *vf = vfs[i];

		if (!vf->driver)
			continue;
		if (len < sizeof(users))
			len += (size_t)snprintf(users + len, sizeof(users) - len, "%s%s (%s)",
						len ? ", " : "", vf->bdf, vf->driver);
	}
	if (len) {
		report_add(r, IOPASS_LEVEL_FAIL, "pf-vfs-in-use",
			   "SR-IOV PF with %d VFs enabled and in use: %s; changing the PF's driver "
			   "destroys them", dev->numvfs, users);
		report_hint(r, "stop what uses the VFs and remove them (echo 0 > sriov_numvfs) first");
	} else {
		report_add(r, IOPASS_LEVEL_WARN, "pf-has-vfs",
			   "SR-IOV PF with %d VFs enabled; changing the PF's driver removes them",
			   dev->numvfs);
	}
}

static void check_companions(const struct iopass_devlist *list, struct iopass_dev *dev,
			     struct iopass_dev *const *set, size_t nset, struct iopass_report *r)
{
	char funcs[512] = "";
	size_t len = 0;
	bool missing = false;

	if (!(dev->flags & DEV_HAVE_CLASS) || (dev->class >> 16) != 0x03)
		return;
	struct iopass_dev *const *slot;
	size_t nslot = devlist_bus(list, dev, true, &slot);

	for (size_t i = 0; i < nslot; i++) {
		struct iopass_dev *d = slot[i];
		const char *cls;

		if (d == dev)
			continue;
		cls = iopass_dev_get_class_name(d);
		if (len < sizeof(funcs))
			len += (size_t)snprintf(funcs + len, sizeof(funcs) - len, "%s%s (%s)",
						len ? ", " : "", d->bdf, cls ? cls : "function");
		missing |= !in_set(d, set, nset);
	}
	if (len && missing) {
		report_add(r, IOPASS_LEVEL_INFO, "gpu-companion",
			   "other functions of this card: %s; guests and drivers expect the whole card",
			   funcs);
		report_hint(r, "pass all functions through together");
	}
}

/*
 * Functions tied to this one by device links (iopass_dev_links(): the kernel
 * links a GPU's HDA, USB and UCSI functions to its display function,
 * pci_create_device_link() in drivers/pci/quirks.c, and the consumer's driver
 * needs its supplier). One left out of the set stays on its host driver while
 * this one goes to the guest.
 */
static void check_links(const struct iopass_devlist *list, struct iopass_dev *dev,
			struct iopass_dev *const *set, size_t nset, struct iopass_report *r)
{
	_cleanup_free_ struct iopass_link *links = NULL;
	size_t n = 0, nleft = 0, len = 0;
	char text[1024] = "";

	/* VFs: the kernel links none, and a PF may have thousands */
	if (dev->physfn || iopass_dev_links(dev, &links, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct iopass_dev *other = iopass_devlist_find(list, &links[i].addr);
		char bdf[IOPASS_BDF_MAX];
		int k;

		/* in the set, gone already, or a bridge (a Thunderbolt NHI's root port), which
		 * is never passed through */
		if (other && (in_set(other, set, nset) || iopass_dev_is_vfio(other) ||
			      !iopass_dev_is_endpoint(other)))
			continue;
		nleft++;
		iopass_addr_format(&links[i].addr, bdf);
		k = snprintf(text + len, sizeof(text) - len, "%s%s (%s, on %s)", nleft > 1 ? ", " : "",
			     bdf, links[i].consumer ? "needs this device" : "this device needs it",
			     !other ? "a driver not read" : other->driver ? other->driver : "no driver");
		if (k < 0 || (size_t)k >= sizeof(text) - len) {
			text[len] = '\0';
			snprintf(text + len, sizeof(text) - len, "%s...", len ? ", " : "");
			break;
		}
		len += (size_t)k;
	}
	if (!nleft)
		return;
	report_add(r, IOPASS_LEVEL_WARN, "linked-function",
		   "the kernel ties %s to this device by a device link, and %s stay%s on the host: %s",
		   nleft == 1 ? "a function" : "functions", nleft == 1 ? "it" : "they",
		   nleft == 1 ? "s" : "", text);
	report_hint(r, "pass the linked functions through together with it");
}

int iopass_check_dev(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		     struct iopass_dev *dev, struct iopass_dev *const *set, size_t nset,
		     struct iopass_report **ret_report)
{
	struct iopass_report *r;
	char others[1024] = "";
	size_t olen = 0;
	bool other_endpoints = false;

	if (!ctx || !list || !dev || !ret_report)
		return -EINVAL;
	r = report_new();
	if (!r)
		return -ENOMEM;

	if (dev->group < 0) {
		report_add(r, IOPASS_LEVEL_FAIL, "no-iommu-group",
			   "has no IOMMU group: the IOMMU is not enabled (or does not cover this device)");
		report_effect(r, IOPASS_EFFECT_BLOCKS);
		report_hint(r, "run 'iopass check' to see what the host lacks");
		report_set_verdict(r, IOPASS_IMPOSSIBLE);
		goto out;
	}
	if (!iopass_dev_is_endpoint(dev)) {
		report_add(r, IOPASS_LEVEL_FAIL, "not-endpoint",
			   "is a bridge or port, not an endpoint: vfio-pci binds only endpoints");
		report_effect(r, IOPASS_EFFECT_BLOCKS);
		report_hint(r, "pass through the devices behind it instead");
		report_set_verdict(r, IOPASS_IMPOSSIBLE);
		goto out;
	}
	/* class 0600: the CPU's own root complex, an endpoint by its header only */
	if ((dev->flags & DEV_HAVE_CLASS) && (dev->class >> 8) == 0x0600) {
		report_add(r, IOPASS_LEVEL_FAIL, "host-bridge",
			   "is the host bridge, the CPU's link to every other device: it cannot be "
			   "passed through");
		report_effect(r, IOPASS_EFFECT_BLOCKS);
		report_set_verdict(r, IOPASS_IMPOSSIBLE);
		goto out;
	}

	if (iopass_dev_is_vfio(dev)) {
		report_add(r, IOPASS_LEVEL_OK, "attached", "bound to %s already", dev->driver);
		check_group_open(ctx, dev, r);
	}
	hostuse_check(dev, r, "");
	check_sriov_pf(list, dev, r);

	/* the group: who else is in it, and does anyone keep it from being viable? */
	struct iopass_dev *const *members;
	size_t nmembers = devlist_group(list, dev->group, &members);

	for (size_t i = 0; i < nmembers; i++) {
		struct iopass_dev *m = members[i];
		char who[64];
		bool endpoint;

		if (m == dev)
			continue;
		endpoint = iopass_dev_is_endpoint(m);
		if (olen < sizeof(others))
			olen += (size_t)snprintf(others + olen, sizeof(others) - olen, "%s%s%s (%s)",
						 olen ? ", " : "", endpoint ? "" : "bridge ", m->bdf,
						 m->driver ? m->driver : "no driver");
		if (!endpoint) {
			/* iopass never moves a bridge: one on another driver must be unbound by hand */
			if (!driver_keeps_group_viable(m)) {
				report_add(r, IOPASS_LEVEL_FAIL, "group-not-viable",
					   "bridge %s in group %d is bound to %s, which may not share an IOMMU "
					   "group with a VFIO device (only drivers that manage their own DMA, "
					   "as pcieport and pci-stub, may)", m->bdf, dev->group, m->driver);
				report_effect(r, IOPASS_EFFECT_NOT_VIABLE);
				report_hint(r, "unbind it first (echo %s > /sys/bus/pci/drivers/%s/unbind)",
					    m->bdf, m->driver);
			}
			continue;
		}
		other_endpoints = true;
		snprintf(who, sizeof(who), "group member %s: ", m->bdf);
		if (in_set(m, set, nset)) {
			hostuse_check(m, r, who);
		} else if (!driver_keeps_group_viable(m)) {
			report_need(r, m->bdf);
			hostuse_check(m, r, who);
		}
	}
	if (iopass_report_needs_count(r)) {
		char list_s[512] = "";
		size_t len = 0;

		for (size_t i = 0; i < iopass_report_needs_count(r) && len < sizeof(list_s); i++)
			len += (size_t)snprintf(list_s + len, sizeof(list_s) - len, "%s%s",
						len ? " " : "", iopass_report_needs(r, i));
		report_add(r, IOPASS_LEVEL_WARN, "group-not-viable",
			   "group %d is viable only when %s %s attached too (bound to host drivers now)",
			   dev->group, list_s, iopass_report_needs_count(r) == 1 ? "is" : "are");
		report_effect(r, IOPASS_EFFECT_NOT_VIABLE);
		report_hint(r, "attach the whole group: iopass attach --group %d", dev->group);
	}
	if (other_endpoints)
		explain_group(list, dev, r, others);
	check_reset(list, dev, set, nset, r);
	check_companions(list, dev, set, nset, r);
	check_links(list, dev, set, nset, r);
	check_vfio_driver(dev, r);

	if (iopass_report_worst(r) == IOPASS_LEVEL_FAIL)
		report_set_verdict(r, IOPASS_UNSAFE);
	else if (iopass_report_needs_count(r))
		report_set_verdict(r, IOPASS_NEEDS_GROUP);
	else
		report_set_verdict(r, IOPASS_READY);
out:
	if (report_oom(r)) {
		iopass_report_free(r);
		return -ENOMEM;
	}
	*ret_report = r;
	return 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Persistence: the generated udev rule and modprobe files (golden, parsed
 * back), idempotence, hand edits, moved cards, and the rule's rebind command.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "iopass.h"

/* One run against the simulated kernel on fx (testutil's sim, without its log). */
static void sim_fx(struct fx *fx, struct run *r, const char *const argv[])
{
	struct sim s;

	sim_open(&s, fx);
	sim_run(&s, r, argv);
}
#define SIMFX(fx, r, ...) sim_fx((fx), (r), (const char *const[]){ __VA_ARGS__, NULL })

/* iopass where the generated rule runs it (the compiled-in sbindir), as after cmake --install */
static void fx_install_helper(struct fx *fx)
{
	char *path;

	fx_printf(fx, &(IOPASS_SBINDIR_TEST "/iopass")[1], "#!/bin/sh\n"); /* below the root */
	assert_true(asprintf(&path, "%s%s/iopass", fx_root(fx), IOPASS_SBINDIR_TEST) > 0);
	assert_int_equal(chmod(path, 0755), 0);
	free(path);
}

static struct fx *fx_persist(void)
{
	struct fx *fx = fx_workstation();

	fx_add_driver(fx, "vfio-pci");
	fx_printf(fx, "etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n");
	/* the USB controller's driver comes from a module of another name; the NVMe's is built in */
	fx_mkdir(fx, "sys/module/xhci_pci");
	fx_symlink(fx, "sys/bus/pci/drivers/xhci_hcd/module", "../../../../module/xhci_pci");
	fx_mkdir(fx, "sys/module/snd_hda_intel");
	fx_symlink(fx, "sys/bus/pci/drivers/snd_hda_intel/module", "../../../../module/snd_hda_intel");
	fx_mkdir(fx, "sys/module/nvidia");
	fx_symlink(fx, "sys/bus/pci/drivers/nvidia/module", "../../../../module/nvidia");
	fx_printf(fx, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/boot_vga", "0\n");
	fx_install_helper(fx);
	return fx;
}

static const char rules_golden[] =
	"# Managed by iopass: generated from /etc/iopass/persist. Do not edit; use\n"
	"# 'iopass attach --persist' and 'iopass detach --persist' (or 'iopass persist').\n"
	"# Each rule sets driver_override for one device, by address and IDs, and rebinds it.\n"
	"# iopass-checksum: %s\n"
	"ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"0000:01:00.0\", ATTR{vendor}==\"0x10de\", "
	"ATTR{device}==\"0x1b80\", ATTR{driver_override}=\"vfio-pci\", RUN+=\"" IOPASS_SBINDIR_TEST
	"/iopass __udev-bind 0000:01:00.0\"\n"
	"ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"0000:01:00.1\", ATTR{vendor}==\"0x10de\", "
	"ATTR{device}==\"0x10f0\", ATTR{driver_override}=\"vfio-pci\", RUN+=\"" IOPASS_SBINDIR_TEST
	"/iopass __udev-bind 0000:01:00.1\"";

static void test_persist_group(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;
	char *text, *rules1, *expected, sum[32];

	(void)state;
	SIMFX(fx, &r, "attach", "--persist", "--group", "1");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.err, "iopass: attach: persisted: the udev rule takes effect at the next boot "
				 "or hotplug; if the host drivers are in the initramfs, regenerate it so that "
				 "vfio-pci loads first there too (update-initramfs -u)\n");
	run_free(&r);

	/* golden: the rule file (its checksum read back, then the whole text compared) */
	rules1 = fx_read(fx, "etc/udev/rules.d/60-iopass.rules");
	assert_non_null(rules1);
	assert_int_equal(sscanf(strstr(rules1, "# iopass-checksum: ") + 19, "%16s", sum), 1);
	assert_true(asprintf(&expected, rules_golden, sum) > 0);
	assert_text_equal(rules1, expected);
	free(expected);
	text = fx_read(fx, "etc/modprobe.d/iopass.conf");
	assert_non_null(strstr(text, "# Managed by iopass: generated from /etc/iopass/persist. Do not edit.\n"));
	assert_non_null(strstr(text, "\nsoftdep nvidia pre: vfio-pci\nsoftdep snd_hda_intel pre: vfio-pci"));
	free(text);
	text = fx_read(fx, "etc/iopass/persist");
	assert_text_equal(text, "iopass-persist 1\n0000:01:00.0 10de:1b80 nvidia\n0000:01:00.1 10de:10f0 snd_hda_intel");
	free(text);

	/* parsed back */
	RUN(&r, fx_root(fx), "persist", "list");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "BDF           ID        DRIVER         HOST-DRIVER    STATE    DESIRED\n"
				 "0000:01:00.0  10de:1b80 vfio-pci       nvidia         active   yes\n"
				 "0000:01:00.1  10de:10f0 vfio-pci       snd_hda_intel  active   yes\n");
	run_free(&r);

	/* idempotent: the same files, byte for byte */
	SIMFX(fx, &r, "attach", "--persist", "--group", "1");
	assert_int_equal(r.status, 0);
	run_free(&r);
	text = fx_read(fx, "etc/udev/rules.d/60-iopass.rules");
	assert_string_equal(text, rules1);
	free(text);
	free(rules1);

	/* detach --persist: back on the host drivers, and the files are gone with the last device */
	SIMFX(fx, &r, "detach", "--persist", "--group", "1");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_false(fx_exists(fx, "etc/udev/rules.d/60-iopass.rules"));
	assert_false(fx_exists(fx, "etc/modprobe.d/iopass.conf"));
	assert_false(fx_exists(fx, "etc/iopass/persist"));
	RUN(&r, fx_root(fx), "persist", "list");
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "");
	run_free(&r);
	fx_free(fx);
}

static void test_hand_edit(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;
	char *before, *after, drv[64];

	(void)state;
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	before = fx_read(fx, "etc/modprobe.d/iopass.conf");
	assert_non_null(strstr(before, "softdep xhci_pci pre: vfio-pci")); /* the module, not the driver */

	/* an admin adds a line */
	char *rules = fx_read(fx, "etc/udev/rules.d/60-iopass.rules");
	fx_printf(fx, "etc/udev/rules.d/60-iopass.rules", "%s\n# mine\n", rules);
	free(rules);
	SIMFX(fx, &r, "persist", "remove", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_text_equal(r.err, "iopass: persist: /etc/udev/rules.d/60-iopass.rules was edited by hand "
				 "(or is not iopass's); nothing was changed; move your changes to a file of "
				 "your own, or pass --force to overwrite it\n");
	run_free(&r);
	after = fx_read(fx, "etc/modprobe.d/iopass.conf");
	assert_string_equal(after, before);
	free(after);
	after = fx_read(fx, "etc/udev/rules.d/60-iopass.rules");
	assert_non_null(strstr(after, "# mine"));
	free(after);

	SIMFX(fx, &r, "persist", "remove", "--force", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_false(fx_exists(fx, "etc/udev/rules.d/60-iopass.rules"));
	free(before);

	/* a file of someone else's at our name: not overwritten either, and found before the
	 * attach: nothing happens (the device back on its driver first) */
	SIMFX(fx, &r, "detach", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	fx_printf(fx, "etc/udev/rules.d/60-iopass.rules", "SUBSYSTEM==\"usb\", GROUP=\"plugdev\"\n");
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_text_equal(r.err, "iopass: attach: --persist: /etc/udev/rules.d/60-iopass.rules was "
				 "edited by hand (or is not iopass's); nothing was changed; move your "
				 "changes to a file of your own, or pass --force to overwrite it\n");
	run_free(&r);
	assert_string_equal(fx_driver(fx, "0000:00:14.0", drv, sizeof(drv)), "xhci_hcd");
	fx_free(fx);
}

static void test_moved_card(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;
	const char *dir;
	char *p;

	(void)state;
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	run_free(&r);
	SIMFX(fx, &r, "detach", "00:14.0");
	run_free(&r);
	RUN(&r, fx_root(fx), "persist", "list");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.out, "0000:00:14.0  8086:a2af vfio-pci       xhci_hcd       inactive yes\n"));
	run_free(&r);

	/* another card at the address */
	dir = fx_dev_dir(fx, "0000:00:14.0");
	assert_true(asprintf(&p, "%s/uevent", dir) > 0);
	fx_printf(fx, p, "DRIVER=xhci_hcd\nPCI_CLASS=C0330\nPCI_ID=1B21:2142\n");
	free(p);
	RUN(&r, fx_root(fx), "persist", "list", "-J");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.out, "\"state\": \"moved\""));
	run_free(&r);
	RUN(&r, fx_root(fx), "check");
	assert_int_equal(r.status, 0); /* a warning, not a failure */
	assert_non_null(strstr(r.out, "warn  0000:00:14.0 [8086:a2af] is persisted for vfio-pci but another "
				      "card sits at that address now (left alone)\n"));
	run_free(&r);
	fx_free(fx);
}

/* driver_override cleared: the simulated kernel shows "(null)", a plain file may be empty */
static bool streq_or_null(const char *ovr)
{
	return ovr && (strcmp(ovr, "(null)") == 0 || *ovr == '\0');
}

static void test_udev_bind(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;
	char drv[64];

	(void)state;
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	run_free(&r);
	SIMFX(fx, &r, "detach", "00:14.0");
	run_free(&r);
	assert_string_equal(fx_driver(fx, "0000:00:14.0", drv, sizeof(drv)), "xhci_hcd");
	/* the rule's ATTR{driver_override}="vfio-pci" comes first */
	fx_printf(fx, "sys/bus/pci/devices/0000:00:14.0/driver_override", "vfio-pci\n");
	/* what the rule runs on "add" when the host driver got there first */
	SIMFX(fx, &r, "__udev-bind", "0000:00:14.0");
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "");
	run_free(&r);
	assert_string_equal(fx_driver(fx, "0000:00:14.0", drv, sizeof(drv)), "vfio-pci");
	/* again: nothing to do */
	SIMFX(fx, &r, "__udev-bind", "0000:00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	/* and detach gives it back to its host driver: the rule's override is not restored */
	SIMFX(fx, &r, "detach", "--persist", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_string_equal(fx_driver(fx, "0000:00:14.0", drv, sizeof(drv)), "xhci_hcd");
	char *ovr = fx_read(fx, "sys/bus/pci/devices/0000:00:14.0/driver_override");

	assert_string_equal(ovr, "(null)");
	free(ovr);
	assert_false(fx_exists(fx, "etc/iopass/persist"));

	/* udev has not reloaded its rules: the old rule fires for a device the record no
	 * longer has. The helper undoes the override and leaves the device on its driver. */
	fx_printf(fx, "sys/bus/pci/devices/0000:00:14.0/driver_override", "vfio-pci\n");
	SIMFX(fx, &r, "__udev-bind", "0000:00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_string_equal(fx_driver(fx, "0000:00:14.0", drv, sizeof(drv)), "xhci_hcd");
	ovr = fx_read(fx, "sys/bus/pci/devices/0000:00:14.0/driver_override");
	assert_true(streq_or_null(ovr));
	free(ovr);
	/* udev won the race with the kernel's probe (device_add() sends the uevent first):
	 * the stale rule's override made vfio-pci take the device; no record, no user */
	SIMFX(fx, &r, "attach", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	fx_unlink(fx, "run/iopass/state");
	assert_string_equal(fx_driver(fx, "0000:00:14.0", drv, sizeof(drv)), "vfio-pci");
	/* a VM holds the group: left on vfio-pci */
	fx_printf(fx, "proc/4242/comm", "qemu-system-x86\n");
	fx_symlink(fx, "proc/4242/fd/20", "/dev/vfio/2");
	SIMFX(fx, &r, "__udev-bind", "0000:00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_string_equal(fx_driver(fx, "0000:00:14.0", drv, sizeof(drv)), "vfio-pci");
	fx_unlink(fx, "proc/4242/fd/20");
	fx_printf(fx, "sys/bus/pci/devices/0000:00:14.0/driver_override", "vfio-pci\n");
	SIMFX(fx, &r, "__udev-bind", "0000:00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_string_equal(fx_driver(fx, "0000:00:14.0", drv, sizeof(drv)), "xhci_hcd");
	ovr = fx_read(fx, "sys/bus/pci/devices/0000:00:14.0/driver_override");
	assert_true(streq_or_null(ovr));
	free(ovr);
	/* a record for another card at that address (other IDs): the same */
	fx_printf(fx, "etc/iopass/persist", "iopass-persist 1\n0000:00:14.0 10de:1b80 nvidia\n");
	fx_printf(fx, "sys/bus/pci/devices/0000:00:14.0/driver_override", "vfio-pci\n");
	SIMFX(fx, &r, "__udev-bind", "0000:00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_string_equal(fx_driver(fx, "0000:00:14.0", drv, sizeof(drv)), "xhci_hcd");
	/* an override the admin set to another driver is not the rule's: left as it is */
	fx_printf(fx, "sys/bus/pci/devices/0000:00:14.0/driver_override", "pci-stub\n");
	SIMFX(fx, &r, "__udev-bind", "0000:00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	ovr = fx_read(fx, "sys/bus/pci/devices/0000:00:14.0/driver_override");
	assert_string_equal(ovr, "pci-stub");
	free(ovr);
	fx_free(fx);
}

static void test_corrupt_record(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;

	(void)state;
	fx_printf(fx, "etc/iopass/persist", "iopass-persist 1\n0000:00:14.0 8086:a2af ../x\n");
	RUN(&r, fx_root(fx), "persist", "list");
	assert_int_equal(r.status, 1);
	assert_text_equal(r.err, "iopass: persist: cannot read /etc/iopass/persist: it is corrupt\n");
	run_free(&r);
	RUN(&r, fx_root(fx), "check");
	assert_non_null(strstr(r.out, "/etc/iopass/persist cannot be used: it is corrupt"));
	run_free(&r);
	RUN(&r, fx_root(fx), "persist", "remove", "zz");
	assert_int_equal(r.status, 2);
	run_free(&r);
	RUN(&r, fx_root(fx), "persist", "frob");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: persist: unknown action 'frob'; use list or remove\n");
	run_free(&r);
	/* a record is read back exactly as iopass writes it, or not at all: what it holds goes
	 * into a udev rule (tabs, short addresses, upper case, a carriage return, two lines
	 * for one address, a target that is no vfio driver, one version's fields in another) */
	static const char *const bad[] = {
		"iopass-persist 1\n0000:00:14.0\t8086:a2af xhci_hcd\n",
		"iopass-persist 1\n00:14.0 8086:a2af xhci_hcd\n",
		"iopass-persist 1\n0000:00:14.0 8086:A2AF xhci_hcd\n",
		"iopass-persist 1\n0000:00:14.0 8086:a2af xhci_hcd\r\n",
		"iopass-persist 1\n0000:00:14.0 8086:a2af xhci_hcd\n0000:00:14.0 8086:a2af -\n",
		"iopass-persist 2\n0000:00:14.0 8086:a2af - xvfio\n",
		"iopass-persist 2\n0000:00:14.0 8086:a2af - vfio_iommu_type1\n",
		"iopass-persist 2\n0000:00:14.0 8086:a2af - host\n",
		"iopass-persist 2\n0000:00:14.0 8086:a2af xhci_hcd\n",
		"iopass-persist 1\n0000:00:14.0 8086:a2af xhci_hcd vfio-pci\n",
		"iopass-persist 3\n0000:00:14.0 8086:a2af xhci_hcd vfio-pci\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fx_printf(fx, "etc/iopass/persist", "%s", bad[i]);
		RUN(&r, fx_root(fx), "persist", "list");
		if (r.status != 1)
			fprintf(stderr, "record accepted: %s", bad[i]);
		assert_int_equal(r.status, 1);
		run_free(&r);
		/* and nothing is made of it: no rule, no desired state */
		SIMFX(fx, &r, "persist", "remove", "0000:02:00.0");
		assert_int_equal(r.status, 1);
		run_free(&r);
		assert_false(fx_exists(fx, "etc/udev/rules.d/60-iopass.rules"));
		assert_false(fx_exists(fx, "etc/iopass/desired"));
	}
	fx_printf(fx, "etc/iopass/persist", "iopass-persist 2\n0000:00:14.0 8086:a2af xhci_hcd mlx5_vfio_pci\n");
	RUN(&r, fx_root(fx), "persist", "list");
	assert_int_equal(r.status, 3); /* read: not active, the device is on xhci_hcd */
	run_free(&r);
	fx_free(fx);
}

static uint64_t fnv(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The checksum covers the whole file: a line above it is an edit too; the older format holds. */
static void test_checksum_whole_file(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;
	char *rules, *tag, *edited;

	(void)state;
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	rules = fx_read(fx, "etc/udev/rules.d/60-iopass.rules");
	tag = strstr(rules, "# iopass-checksum: ");
	assert_non_null(tag);
	/* an admin's line above the checksum line */
	assert_true(asprintf(&edited, "%.*sACTION==\"add\", RUN+=\"/usr/local/bin/mine\"\n%s\n",
			     (int)(tag - rules), rules, tag) > 0);
	fx_printf(fx, "etc/udev/rules.d/60-iopass.rules", "%s", edited);
	free(edited);
	SIMFX(fx, &r, "persist", "remove", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "/etc/udev/rules.d/60-iopass.rules was edited by hand"));
	run_free(&r);
	edited = fx_read(fx, "etc/udev/rules.d/60-iopass.rules");
	assert_non_null(strstr(edited, "/usr/local/bin/mine")); /* kept */
	free(edited);

	/* a file in the earlier format (the checksum of the body alone) is still ours */
	{
		char *body; /* as written: fx_read() cut the last newline */

		assert_true(asprintf(&body, "%s\n", strchr(tag, '\n') + 1) > 0);
		assert_true(asprintf(&edited, "%.*s# iopass-checksum: %016llx\n%s", (int)(tag - rules),
				     rules, (unsigned long long)fnv(body), body) > 0);
		free(body);
	}
	fx_printf(fx, "etc/udev/rules.d/60-iopass.rules", "%s", edited);
	free(edited);
	SIMFX(fx, &r, "persist", "remove", "00:14.0");
	if (r.status != 0)
		fprintf(stderr, "%s", r.err);
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_false(fx_exists(fx, "etc/udev/rules.d/60-iopass.rules"));
	free(rules);
	fx_free(fx);
}

/* After a reboot the device is on vfio-pci and /run/iopass/state is gone: persisting again keeps the record. */
static void test_repersist_after_reboot(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;
	char *rec, *mod;

	(void)state;
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	fx_unlink(fx, "run/iopass/state");
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	rec = fx_read(fx, "etc/iopass/persist");
	assert_non_null(strstr(rec, "0000:00:14.0 8086:a2af xhci_hcd"));
	mod = fx_read(fx, "etc/modprobe.d/iopass.conf");
	assert_non_null(strstr(mod, "softdep xhci_pci pre: vfio-pci"));
	free(rec);
	free(mod);
	/* another card at the address (other IDs): its entry is new, the old driver does not apply */
	fx_printf(fx, "etc/iopass/persist", "iopass-persist 1\n0000:00:14.0 8086:ffff xhci_hcd\n");
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	run_free(&r);
	rec = fx_read(fx, "etc/iopass/persist");
	assert_non_null(strstr(rec, "0000:00:14.0 8086:a2af -"));
	free(rec);
	fx_free(fx);
}

/*
 * A record whose host driver is a vfio variant (the card was on mlx5_vfio_pci before):
 * vfio-pci needs no softdep against its own kind. The one "is a vfio driver" rule
 * (driver_name_is_vfio) decides, not a "vfio" prefix.
 */
static void test_softdep_skips_vfio_variant(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;
	char *mod;

	(void)state;
	fx_add_driver(fx, "mlx5_vfio_pci");
	fx_mkdir(fx, "sys/module/mlx5_vfio_pci");
	fx_symlink(fx, "sys/bus/pci/drivers/mlx5_vfio_pci/module", "../../../../module/mlx5_vfio_pci");
	fx_printf(fx, "etc/iopass/persist", "iopass-persist 1\n0000:00:14.0 8086:a2af mlx5_vfio_pci\n");
	SIMFX(fx, &r, "attach", "--persist", "--group", "1");
	assert_int_equal(r.status, 0);
	run_free(&r);
	mod = fx_read(fx, "etc/modprobe.d/iopass.conf");
	assert_non_null(mod);
	assert_non_null(strstr(mod, "softdep nvidia pre: vfio-pci"));
	assert_null(strstr(mod, "mlx5_vfio_pci"));
	free(mod);
	mod = fx_read(fx, "etc/iopass/persist");
	assert_non_null(strstr(mod, "0000:00:14.0 8086:a2af mlx5_vfio_pci"));
	free(mod);
	fx_free(fx);
}

/* From a build that is not installed, the rule would run a program that is not there. */
static void test_helper_missing(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;
	char *path, drv[64];

	(void)state;
	assert_true(asprintf(&path, "%s%s/iopass", fx_root(fx), IOPASS_SBINDIR_TEST) > 0);
	assert_int_equal(chmod(path, 0644), 0); /* there, but not executable */
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "is not an executable file (this build is not installed)"));
	run_free(&r);
	assert_int_equal(unlink(path), 0);
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_text_equal(r.err, "iopass: attach: --persist: the udev rule would run " IOPASS_SBINDIR_TEST
				 "/iopass, which does not exist (this build is not installed): run 'cmake "
				 "--install BUILD_DIR' first, or configure with -DCMAKE_INSTALL_PREFIX set to "
				 "where iopass is installed; nothing was changed\n");
	run_free(&r);
	/* nothing written: the device on its driver, no record, no rule */
	assert_string_equal(fx_driver(fx, "0000:00:14.0", drv, sizeof(drv)), "xhci_hcd");
	assert_false(fx_exists(fx, "etc/iopass/persist"));
	assert_false(fx_exists(fx, "etc/udev/rules.d/60-iopass.rules"));
	/* a dry run needs no helper */
	SIMFX(fx, &r, "attach", "--persist", "-n", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	free(path);
	fx_free(fx);
}

/* ---- the desired state: the one source of truth of the boot configuration -------------- */

#define DESIRED_HEADER                                                                          \
	"# The desired state of this host's PCI passthrough: iopass(8), DESIRED STATE FILE.\n"  \
	"# Edited by hand, or by 'iopass attach --persist', 'detach --persist', 'persist\n"       \
	"# remove' and 'apply'; 'iopass apply' makes the host match it.\n"

static void assert_desired(struct fx *fx, const char *want)
{
	char *text = fx_read(fx, "etc/iopass/desired");

	if (!want) {
		assert_null(text);
		return;
	}
	assert_non_null(text);
	assert_text_equal(text, want);
	free(text);
}

/* attach --persist writes the lines, apply finds nothing to do, remove and detach take them back. */
static void test_desired_follows_persist(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;
	char *rec;

	(void)state;
	SIMFX(fx, &r, "attach", "--persist", "--group", "1");
	assert_int_equal(r.status, 0);
	run_free(&r);
	/* pinned to the cards: address, IDs and subsystem IDs */
	assert_desired(fx, DESIRED_HEADER "0000:01:00.0 10de:1b80/1043:8591 vfio-pci boot\n"
					  "0000:01:00.1 10de:10f0/1043:8591 vfio-pci boot");
	/* the host is as the desired state says: apply changes nothing (exit 0, not 4) */
	SIMFX(fx, &r, "apply");
	assert_int_equal(r.status, 0);
	run_free(&r);
	/* persist remove: out of the boot configuration, still wanted on vfio-pci now */
	SIMFX(fx, &r, "persist", "remove", "01:00.1");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_desired(fx, DESIRED_HEADER "0000:01:00.0 10de:1b80/1043:8591 vfio-pci boot\n"
					  "0000:01:00.1 10de:10f0/1043:8591 vfio-pci");
	rec = fx_read(fx, "etc/iopass/persist");
	assert_text_equal(rec, "iopass-persist 1\n0000:01:00.0 10de:1b80 nvidia");
	free(rec);
	SIMFX(fx, &r, "apply");
	assert_int_equal(r.status, 0);
	run_free(&r);
	/* detach --persist: the devices are the host's; lines that said no more than that go,
	 * and the file with them when only iopass's header is left */
	SIMFX(fx, &r, "detach", "--persist", "--group", "1");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_desired(fx, NULL);
	assert_false(fx_exists(fx, "etc/iopass/persist"));
	fx_free(fx);
}

/* The admin's file: the line naming the device is edited in place, comments and other lines kept. */
static void test_desired_edited_in_place(void **state)
{
	static const char before[] =
		"# my workstation\n"
		"0000:00:14.0 8086:a2af vfio-pci optional  # the USB card for the VM\n"
		"*\t10de:1b80 vfio-pci   # the GPU, by its IDs\n"
		"\n"
		"0000:02:00.0 144d:a808 host # the boot disk\n";
	struct fx *fx = fx_persist();
	struct run r;
	char drv[64];

	(void)state;
	fx_printf(fx, "etc/iopass/desired", "%s", before);
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_desired(fx, "# my workstation\n"
			   "0000:00:14.0 8086:a2af vfio-pci boot optional  # the USB card for the VM\n"
			   "*\t10de:1b80 vfio-pci   # the GPU, by its IDs\n"
			   "\n"
			   "0000:02:00.0 144d:a808 host # the boot disk");
	/* the '*' line resolves to 01:00.0: that line gets 'boot', none is appended */
	SIMFX(fx, &r, "attach", "--persist", "01:00.0", "01:00.1");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_desired(fx, "# my workstation\n"
			   "0000:00:14.0 8086:a2af vfio-pci boot optional  # the USB card for the VM\n"
			   "* 10de:1b80 vfio-pci boot  # the GPU, by its IDs\n"
			   "\n"
			   "0000:02:00.0 144d:a808 host # the boot disk\n"
			   "0000:01:00.1 10de:10f0/1043:8591 vfio-pci boot");
	/* again: nothing to edit, the text as it was */
	SIMFX(fx, &r, "attach", "--persist", "00:14.0", "01:00.0", "01:00.1");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_desired(fx, "# my workstation\n"
			   "0000:00:14.0 8086:a2af vfio-pci boot optional  # the USB card for the VM\n"
			   "* 10de:1b80 vfio-pci boot  # the GPU, by its IDs\n"
			   "\n"
			   "0000:02:00.0 144d:a808 host # the boot disk\n"
			   "0000:01:00.1 10de:10f0/1043:8591 vfio-pci boot");
	/* detach --persist: 'optional' says more than "the host's", and so does the admin's
	 * comment: those lines stay, as host; iopass's own line goes */
	SIMFX(fx, &r, "detach", "--persist", "00:14.0", "01:00.0", "01:00.1");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_desired(fx, "# my workstation\n"
			   "0000:00:14.0 8086:a2af host optional  # the USB card for the VM\n"
			   "* 10de:1b80 host  # the GPU, by its IDs\n"
			   "\n"
			   "0000:02:00.0 144d:a808 host # the boot disk");
	assert_string_equal(fx_driver(fx, "0000:00:14.0", drv, sizeof(drv)), "xhci_hcd");
	fx_free(fx);
}

/* A desired state the edit cannot read is refused before the attach: nothing written. */
static void test_desired_broken_refused(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;
	char drv[64], *path;

	(void)state;
	fx_printf(fx, "etc/iopass/desired", "0000:00:14.0 8086:a2af vfio-pci\n0000:01:00.0 10de:1b80 nvidia\n");
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "iopass: attach: --persist: /etc/iopass/desired line 2: 'nvidia': "
				      "not a target driver"));
	assert_non_null(strstr(r.err, "nothing was changed"));
	run_free(&r);
	assert_string_equal(fx_driver(fx, "0000:00:14.0", drv, sizeof(drv)), "xhci_hcd");
	assert_false(fx_exists(fx, "etc/iopass/persist"));
	assert_false(fx_exists(fx, "etc/udev/rules.d/60-iopass.rules"));
	/* others may write it: root does not act on it */
	fx_printf(fx, "etc/iopass/desired", "0000:00:14.0 8086:a2af vfio-pci\n");
	assert_true(asprintf(&path, "%s/etc/iopass/desired", fx_root(fx)) > 0);
	assert_int_equal(chmod(path, 0666), 0);
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "cannot read /etc/iopass/desired: it is a symlink, not root's, "
				      "or others can write to it; nothing was changed"));
	run_free(&r);
	assert_string_equal(fx_driver(fx, "0000:00:14.0", drv, sizeof(drv)), "xhci_hcd");
	/* detach --persist refuses as well, before the detach */
	assert_int_equal(chmod(path, 0644), 0);
	SIMFX(fx, &r, "attach", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	fx_printf(fx, "etc/iopass/desired", "0000:00:14.0 8086:a2af vfio-pci boot bogus\n");
	SIMFX(fx, &r, "detach", "--persist", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "line 1: unknown option 'bogus'"));
	run_free(&r);
	assert_string_equal(fx_driver(fx, "0000:00:14.0", drv, sizeof(drv)), "vfio-pci");
	free(path);
	fx_free(fx);
}

/* A record from before the desired state existed: its devices become lines, none is dropped. */
static void test_desired_seeded_from_record(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;
	char *rec;

	(void)state;
	fx_printf(fx, "etc/iopass/persist", "iopass-persist 1\n0000:00:14.0 8086:a2af xhci_hcd\n");
	SIMFX(fx, &r, "attach", "--persist", "01:00.0", "01:00.1");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_desired(fx, DESIRED_HEADER "0000:00:14.0 8086:a2af vfio-pci boot\n"
					  "0000:01:00.0 10de:1b80/1043:8591 vfio-pci boot\n"
					  "0000:01:00.1 10de:10f0/1043:8591 vfio-pci boot");
	rec = fx_read(fx, "etc/iopass/persist");
	assert_non_null(strstr(rec, "0000:00:14.0 8086:a2af xhci_hcd\n"));
	free(rec);
	fx_free(fx);
}

/*
 * Held on a vfio variant driver from boot on: the rule sets that driver's
 * override, no softdep (the variant's module needs its host driver's), the
 * record says which driver (version 2), __udev-bind binds it.
 */
static void test_persist_variant_driver(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;
	char *text, drv[64];

	(void)state;
	fx_add_driver(fx, "mlx5_vfio_pci");
	/* made up: mlx5_vfio_pci's real table has only the mlx5Gen VF, 101e */
	fx_modules_alias(fx, NULL, "alias vfio_pci:v000015B3d00001018sv*sd*bc*sc*i* mlx5_vfio_pci\n");
	SIMFX(fx, &r, "attach", "--persist", "--driver", "mlx5_vfio_pci", "03:00.3");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_string_equal(fx_driver(fx, "0000:03:00.3", drv, sizeof(drv)), "mlx5_vfio_pci");
	text = fx_read(fx, "etc/udev/rules.d/60-iopass.rules");
	assert_non_null(strstr(text, "KERNEL==\"0000:03:00.3\", ATTR{vendor}==\"0x15b3\", "
				     "ATTR{device}==\"0x1018\", ATTR{driver_override}=\"mlx5_vfio_pci\""));
	free(text);
	text = fx_read(fx, "etc/modprobe.d/iopass.conf");
	assert_null(strstr(text, "softdep"));
	free(text);
	text = fx_read(fx, "etc/iopass/persist");
	assert_text_equal(text, "iopass-persist 2\n0000:03:00.3 15b3:1018 - mlx5_vfio_pci");
	free(text);
	assert_desired(fx, DESIRED_HEADER "0000:03:00.3 15b3:1018/15b3:0007 mlx5_vfio_pci boot");
	RUN(&r, fx_root(fx), "persist", "list");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "0000:03:00.3  15b3:1018 mlx5_vfio_pci  -              active   yes\n"));
	run_free(&r);
	SIMFX(fx, &r, "apply");
	assert_int_equal(r.status, 0);
	run_free(&r);
	/* after a reboot the rule's override is set and the device has no driver yet */
	SIMFX(fx, &r, "detach", "03:00.3");
	assert_int_equal(r.status, 0);
	run_free(&r);
	fx_printf(fx, "sys/bus/pci/devices/0000:03:00.3/driver_override", "mlx5_vfio_pci\n");
	SIMFX(fx, &r, "__udev-bind", "0000:03:00.3");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_string_equal(fx_driver(fx, "0000:03:00.3", drv, sizeof(drv)), "mlx5_vfio_pci");
	/* out of the record, the stale rule's variant override is undone like vfio-pci's */
	SIMFX(fx, &r, "detach", "--persist", "03:00.3");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_desired(fx, NULL);
	fx_printf(fx, "sys/bus/pci/devices/0000:03:00.3/driver_override", "mlx5_vfio_pci\n");
	SIMFX(fx, &r, "__udev-bind", "0000:03:00.3");
	assert_int_equal(r.status, 0);
	run_free(&r);
	text = fx_read(fx, "sys/bus/pci/devices/0000:03:00.3/driver_override");
	assert_true(streq_or_null(text));
	free(text);
	/* a version 1 record (older iopass) reads as vfio-pci */
	fx_printf(fx, "etc/iopass/persist", "iopass-persist 1\n0000:03:00.3 15b3:1018 -\n");
	RUN(&r, fx_root(fx), "persist", "list", "-J");
	assert_non_null(strstr(r.out, "\"driver\": \"vfio-pci\""));
	run_free(&r);
	fx_free(fx);
}

/* apply's boot changes are written into the desired state: the line it applied. */
static void test_apply_writes_desired(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;
	char *file, *rec, drv[64];

	(void)state;
	assert_true(asprintf(&file, "%s/want", fx_root(fx)) > 0);
	fx_printf(fx, "want", "0000:00:14.0 8086:a2af vfio-pci boot\n");
	SIMFX(fx, &r, "apply", file);
	assert_int_equal(r.status, 4);
	run_free(&r);
	assert_desired(fx, DESIRED_HEADER "0000:00:14.0 8086:a2af vfio-pci boot");
	/* the desired state itself: nothing to do, nothing rewritten */
	SIMFX(fx, &r, "apply");
	assert_int_equal(r.status, 0);
	run_free(&r);
	fx_printf(fx, "want", "0000:00:14.0 8086:a2af vfio-pci\n");
	SIMFX(fx, &r, "apply", file);
	assert_int_equal(r.status, 4);
	run_free(&r);
	assert_desired(fx, DESIRED_HEADER "0000:00:14.0 8086:a2af vfio-pci");
	assert_false(fx_exists(fx, "etc/iopass/persist"));
	/* apply's '*' line takes the place of the admin's line for that device */
	fx_printf(fx, "etc/iopass/desired", "0000:00:14.0 8086:a2af vfio-pci  # usb\n");
	fx_printf(fx, "want", "* 8086:a2af vfio-pci boot\n");
	SIMFX(fx, &r, "apply", file);
	assert_int_equal(r.status, 4);
	run_free(&r);
	assert_desired(fx, "* 8086:a2af vfio-pci boot  # usb");
	SIMFX(fx, &r, "detach", "--persist", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_desired(fx, "* 8086:a2af host  # usb"); /* the comment keeps the line */
	/* an edit that would leave a file the next run cannot read (the line and its comment
	 * over 1024 bytes) is refused before the first write: the device is not moved */
	fx_printf(fx, "etc/iopass/desired", "0000:00:14.0 8086:a2af vfio-pci  # %0985d\n", 0);
	fx_printf(fx, "want", "0000:00:14.0 8086:a2af vfio-pci boot\n");
	SIMFX(fx, &r, "apply", file);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "line 1: longer than 1024 bytes"));
	run_free(&r);
	assert_string_equal(fx_driver(fx, "0000:00:14.0", drv, sizeof(drv)), "xhci_hcd");
	rec = fx_read(fx, "etc/iopass/persist");
	assert_null(rec);
	assert_false(fx_exists(fx, "etc/iopass/journal"));
	free(file);
	fx_free(fx);
}

/* persist list: the record against the desired state, both ways; apply makes them agree. */
static void test_persist_list_drift(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;

	(void)state;
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	RUN(&r, fx_root(fx), "persist", "list");
	assert_int_equal(r.status, 0);
	run_free(&r);
	/* edited by hand: the USB controller is no longer wanted from boot on, the GPU is,
	 * and a card that is not there (by IDs) */
	fx_printf(fx, "etc/iopass/desired", "0000:00:14.0 8086:a2af vfio-pci\n"
					    "0000:01:00.0 10de:1b80 vfio-pci boot\n"
					    "* 1234:5678 vfio-pci boot optional\n");
	RUN(&r, fx_root(fx), "persist", "list");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.out, "0000:00:14.0  8086:a2af vfio-pci       xhci_hcd       active   no\n"));
	assert_text_equal(r.err, "iopass: persist: warning: /etc/iopass/desired line 2 holds 0000:01:00.0 on vfio-pci "
				 "from boot on, but the boot configuration does not; run 'iopass apply'\n"
				 "iopass: persist: warning: /etc/iopass/desired line 3 holds a device on vfio-pci from "
				 "boot on that is not there now: the boot configuration names devices by "
				 "address, so it does not hold this one\n");
	run_free(&r);
	RUN(&r, fx_root(fx), "persist", "list", "-J");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.out, "\"desired\": false"));
	assert_non_null(strstr(r.out, "\"pending\": [\n"));
	assert_non_null(strstr(r.out, "\"line\": 2,\n"));
	run_free(&r);
	/* the GPU with its audio function (one group): apply moves both, and holds them from boot on */
	fx_printf(fx, "etc/iopass/desired", "0000:00:14.0 8086:a2af vfio-pci\n"
					    "0000:01:00.0 10de:1b80 vfio-pci boot\n"
					    "0000:01:00.1 10de:10f0 vfio-pci boot\n");
	SIMFX(fx, &r, "apply");
	assert_int_equal(r.status, 4);
	run_free(&r);
	RUN(&r, fx_root(fx), "persist", "list");
	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	assert_null(strstr(r.out, "0000:00:14.0"));
	run_free(&r);
	/* a desired state that does not parse: said, exit 1 */
	fx_printf(fx, "etc/iopass/desired", "0000:00:14.0 8086:a2af\n");
	RUN(&r, fx_root(fx), "persist", "list");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "line 1: 2 fields"));
	run_free(&r);
	fx_free(fx);
}

/* The edit's corner cases: another card's line, a line the edit would break, an old host. */
static void test_desired_edit_cases(void **state)
{
	struct fx *fx = fx_persist();
	struct run r;
	struct stat st;
	char *path, drv[64], *rules;

	(void)state;
	/* the line is for the card that sat at the address before: the IDs become this one's */
	fx_printf(fx, "etc/iopass/desired", "0000:00:14.0 8086:1111 host # the old card\n");
	assert_true(asprintf(&path, "%s/etc/iopass/desired", fx_root(fx)) > 0);
	assert_int_equal(chmod(path, 0600), 0);
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_desired(fx, "0000:00:14.0 8086:a2af/0000:0000 vfio-pci boot  # the old card");
	/* ... and the admin's mode stays */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	RUN(&r, fx_root(fx), "persist", "list");
	assert_int_equal(r.status, 0);
	run_free(&r);
	/* drift compares the IDs too: a line for other IDs does not hold the recorded card */
	fx_printf(fx, "etc/iopass/desired", "0000:00:14.0 8086:1111 vfio-pci boot\n");
	RUN(&r, fx_root(fx), "persist", "list");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.out, "active   no\n"));
	run_free(&r);
	SIMFX(fx, &r, "detach", "--persist", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);

	/* a line the edit would make invalid (a PF with vfs= cannot go to vfio-pci): refused
	 * before the attach, the PF and its VFs as they were */
	fx_printf(fx, "etc/iopass/desired", "0000:03:00.0 15b3:1017 host vfs=2\n");
	SIMFX(fx, &r, "attach", "--persist", "--force", "03:00.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "iopass: attach: --persist: /etc/iopass/desired line 1: vfs=2: "));
	assert_non_null(strstr(r.err, "nothing was changed"));
	run_free(&r);
	assert_string_equal(fx_driver(fx, "0000:03:00.0", drv, sizeof(drv)), "mlx5_core");
	fx_unlink(fx, "etc/iopass/desired");

	/* a host persisted by an older iopass: a record, no desired state */
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	fx_unlink(fx, "etc/iopass/desired");
	RUN(&r, fx_root(fx), "persist", "list");
	assert_int_equal(r.status, 0); /* nothing to drift from */
	assert_non_null(strstr(r.out, "active   -\n"));
	run_free(&r);
	RUN(&r, fx_root(fx), "persist", "list", "-J");
	assert_non_null(strstr(r.out, "\"desired\": null"));
	run_free(&r);
	/* removing what is not there changes nothing: no file is seeded, nothing is rewritten
	 * (a hand-edited rule is no obstacle then) */
	rules = fx_read(fx, "etc/udev/rules.d/60-iopass.rules");
	fx_printf(fx, "etc/udev/rules.d/60-iopass.rules", "%s\n# mine\n", rules);
	SIMFX(fx, &r, "persist", "remove", "02:00.0");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "not persisted: nothing to remove"));
	run_free(&r);
	assert_false(fx_exists(fx, "etc/iopass/desired"));
	free(rules);
	fx_unlink(fx, "etc/udev/rules.d/60-iopass.rules"); /* the hand edit, gone */

	/* a desired state another line of which does not parse: un-persisting is refused, and
	 * --force goes ahead without it (the emergency), saying so */
	fx_unlink(fx, "etc/iopass/persist");
	fx_unlink(fx, "etc/modprobe.d/iopass.conf");
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	fx_printf(fx, "etc/iopass/desired", "0000:00:14.0 8086:a2af vfio-pci boot\n0000:02:00.0 144d:a808 nvme\n");
	SIMFX(fx, &r, "persist", "remove", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "line 2: 'nvme': not a target driver"));
	run_free(&r);
	assert_true(fx_exists(fx, "etc/iopass/persist"));
	SIMFX(fx, &r, "persist", "remove", "--force", "00:14.0");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "removed from the boot configuration"));
	assert_non_null(strstr(r.err, "; forced past the desired state, left as it is: "
				      "/etc/iopass/desired line 2: 'nvme': not a target driver"));
	run_free(&r);
	assert_false(fx_exists(fx, "etc/iopass/persist"));
	assert_false(fx_exists(fx, "etc/udev/rules.d/60-iopass.rules"));
	assert_desired(fx, "0000:00:14.0 8086:a2af vfio-pci boot\n0000:02:00.0 144d:a808 nvme");
	/* --force does not write past it for an addition */
	SIMFX(fx, &r, "attach", "--persist", "--force", "00:14.0");
	assert_int_equal(r.status, 1);
	run_free(&r);
	assert_false(fx_exists(fx, "etc/iopass/persist"));

	/* an absent card that a '*' line holds from boot on: persist remove finds that line by
	 * the record's IDs (it names no device now), and takes 'boot' off it */
	fx_printf(fx, "etc/iopass/persist", "iopass-persist 1\n0000:09:00.0 10de:1eb8 nvidia\n");
	fx_printf(fx, "etc/iopass/desired", "* 10de:1eb8 vfio-pci optional boot  # the hotplug GPU\n"
					    "* 8086:a2af vfio-pci boot\n");
	SIMFX(fx, &r, "persist", "remove", "09:00.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_desired(fx, "* 10de:1eb8 vfio-pci optional  # the hotplug GPU\n"
			   "* 8086:a2af vfio-pci boot");
	/* two such lines: which one it was cannot be told; neither is edited */
	fx_printf(fx, "etc/iopass/persist", "iopass-persist 1\n0000:09:00.0 10de:1eb8 nvidia\n");
	fx_printf(fx, "etc/iopass/desired", "* 10de:1eb8 vfio-pci optional boot nth=1\n"
					    "* 10de:1eb8 vfio-pci optional boot nth=2\n");
	SIMFX(fx, &r, "persist", "remove", "09:00.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_desired(fx, "* 10de:1eb8 vfio-pci optional boot nth=1\n"
			   "* 10de:1eb8 vfio-pci optional boot nth=2");
	free(path);
	fx_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_helper_missing),
		cmocka_unit_test(test_softdep_skips_vfio_variant),
		cmocka_unit_test(test_repersist_after_reboot),
		cmocka_unit_test(test_checksum_whole_file),
		cmocka_unit_test(test_persist_group), cmocka_unit_test(test_hand_edit),
		cmocka_unit_test(test_moved_card),    cmocka_unit_test(test_udev_bind),
		cmocka_unit_test(test_corrupt_record),
		cmocka_unit_test(test_desired_follows_persist),
		cmocka_unit_test(test_desired_edited_in_place),
		cmocka_unit_test(test_desired_broken_refused),
		cmocka_unit_test(test_desired_seeded_from_record),
		cmocka_unit_test(test_persist_variant_driver),
		cmocka_unit_test(test_apply_writes_desired),
		cmocka_unit_test(test_persist_list_drift),
		cmocka_unit_test(test_desired_edit_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

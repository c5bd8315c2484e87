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
	assert_text_equal(r.out, "BDF           ID        HOST-DRIVER    STATE\n"
				 "0000:01:00.0  10de:1b80 nvidia         active\n"
				 "0000:01:00.1  10de:10f0 snd_hda_intel  active\n");
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
	char *before, *after;

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

	/* a file of someone else's at our name: not overwritten either */
	fx_printf(fx, "etc/udev/rules.d/60-iopass.rules", "SUBSYSTEM==\"usb\", GROUP=\"plugdev\"\n");
	SIMFX(fx, &r, "attach", "--persist", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "was edited by hand (or is not iopass's)"));
	assert_non_null(strstr(r.err, "the devices are attached now, but not for the next boot"));
	run_free(&r);
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
	assert_non_null(strstr(r.out, "0000:00:14.0  8086:a2af xhci_hcd       inactive\n"));
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Recovery from interrupted runs, against the simulated kernel: every writing
 * command killed after each of its durable steps (kernel writes, state files
 * put in place or removed under /run and /etc), then an unrelated writing run,
 * also with a VM or the host taking the devices in between; the lock race;
 * journals naming a card that is no longer there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* The workstation with a secondary GPU, an onboard NIC, the persistence helper installed. */
static struct fx *fx_recovery(void)
{
	struct fx *fx = fx_secondary_gpu();
	char *path;

	fx_add(fx, &FX_DEV(.bdf = "0000:00:1f.6", .vendor = 0x8086, .device = 0x15bb,
			   .subvendor = 0x1043, .subdevice = 0x8694, .class = 0x020000,
			   .driver = "e1000e", .group = 8, .pcie = FX_PCIE_RCIEP, .flr = true,
			   .reset_method = "flr"));
	fx_printf(fx, "etc/os-release", "ID=debian\n");
	fx_printf(fx, &(IOPASS_SBINDIR_TEST "/iopass")[1], "#!/bin/sh\n");
	assert_true(asprintf(&path, "%s%s/iopass", fx_root(fx), IOPASS_SBINDIR_TEST) > 0);
	assert_int_equal(chmod(path, 0755), 0);
	free(path);
	return fx;
}

/* eno1 comes up on the NIC with the default route through it */
static void nic_takes_default_route(struct fx *fx)
{
	fx_add_net(fx, "0000:00:1f.6", "eno1", true);
	fx_printf(fx, "proc/net/route",
		  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		  "eno1\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
}

static void run_ok(struct sim *s, const char *const argv[]);

/* The fixture, its VFs removed first: every device on vfio-pci is then iopass's own. */
static void sim_recovery(struct sim *s)
{
	sim_open(s, fx_recovery());
	run_ok(s, (const char *const[]){ "vf", "remove", "03:00.0", NULL });
}

static void set_kill(struct sim *s, const char *what, int k)
{
	snprintf(s->env_kill, sizeof(s->env_kill), "%s=%d", what, k);
}

/* Run argv killed after its k-th durable write: it must die there, and later runs live. */
static void killed_after(struct sim *s, int k, const char *const argv[])
{
	struct run r;

	set_kill(s, "IOPASS_SIM_KILL_AFTER_OP", k);
	sim_run(s, &r, argv);
	s->env_kill[0] = '\0';
	assert_int_equal(r.status, 128 + SIGKILL);
	run_free(&r);
}
#define KILLED_AFTER(s, k, ...) killed_after((s), (k), (const char *const[]){ __VA_ARGS__, NULL })

static void run_ok(struct sim *s, const char *const argv[])
{
	struct run r;

	sim_run(s, &r, argv);
	if (r.status != 0)
		fprintf(stderr, "%s %s: %d: %s%s", argv[0], argv[1] ? argv[1] : "", r.status, r.out, r.err);
	assert_int_equal(r.status, 0);
	run_free(&r);
}
#define RUN_OK(s, ...) run_ok((s), (const char *const[]){ __VA_ARGS__, NULL })

static bool has_line_with(const char *text, const char *word)
{
	return text && strstr(text, word);
}

/* The desired state has a line for bdf with 'boot' (the record has to agree). */
static bool desired_boot(const char *text, const char *bdf)
{
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (!strncmp(p, bdf, strlen(bdf)) && memmem(p, n, " boot", 5))
			return true;
		p = nl ? nl + 1 : NULL;
	}
	return false;
}

/*
 * The invariants every run leaves, killed or not, once recovered: no journal;
 * no device without a driver; a device is on vfio-pci exactly when the record has it, and one that is not
 * carries no vfio-pci override; autoprobe is on; the udev rule exists exactly
 * when the persistence record does, and the desired state holds a device from boot
 * on exactly when the persistence record has it.
 */
static void assert_consistent(struct sim *s)
{
	static const char *const bdfs[] = { "0000:01:00.0", "0000:01:00.1", "0000:00:14.0",
					    "0000:00:1f.6", "0000:03:00.2", "0000:03:00.3",
					    "0000:03:00.4" };
	char *state = fx_read(s->fx, "run/iopass/state");
	char *record = fx_read(s->fx, "etc/iopass/persist");
	char *desired = fx_read(s->fx, "etc/iopass/desired");

	assert_false(fx_exists(s->fx, "run/iopass/journal"));
	assert_false(fx_exists(s->fx, "etc/iopass/journal"));
	for (size_t i = 0; i < sizeof(bdfs) / sizeof(bdfs[0]); i++) {
		char dir[128], drv[128], *ovr;
		bool vfio;

		snprintf(dir, sizeof(dir), "sys/bus/pci/devices/%s", bdfs[i]);
		if (!fx_exists(s->fx, dir))
			continue;
		vfio = strcmp(fx_driver(s->fx, bdfs[i], drv, sizeof(drv)), "vfio-pci") == 0;
		if (!*drv)
			fprintf(stderr, "%s: left without a driver\n", bdfs[i]);
		assert_true(*drv); /* every function of the fixture has one */
		if (vfio != has_line_with(state, bdfs[i]))
			fprintf(stderr, "%s: on %s, record:\n%s\n", bdfs[i], drv, state ? state : "(none)");
		assert_int_equal(vfio, has_line_with(state, bdfs[i]));
		snprintf(dir, sizeof(dir), "sys/bus/pci/devices/%s/driver_override", bdfs[i]);
		ovr = fx_read(s->fx, dir);
		if (!vfio)
			assert_false(ovr && strcmp(ovr, "vfio-pci") == 0);
		free(ovr);
		if (has_line_with(record, bdfs[i]) != desired_boot(desired, bdfs[i]))
			fprintf(stderr, "%s: record:\n%s\ndesired:\n%s\n", bdfs[i], record ? record : "",
				desired ? desired : "");
		assert_int_equal(has_line_with(record, bdfs[i]), desired_boot(desired, bdfs[i]));
	}
	free(state);
	free(record);
	free(desired);
	assert_file(s, "sys/bus/pci/devices/0000:03:00.0/sriov_drivers_autoprobe", "1");
	assert_int_equal(fx_exists(s->fx, "etc/udev/rules.d/60-iopass.rules"),
			 fx_exists(s->fx, "etc/iopass/persist"));
}

/*
 * Recovery found a VM holding the group of a device a stale rule had claimed:
 * the device stays where the VM has it, the rule's override gone; all else as
 * assert_consistent() says.
 */
static void assert_kept_for_vm(struct sim *s, const char *bdf)
{
	char drv[64], path[128], *ovr;

	if (strcmp(fx_driver(s->fx, bdf, drv, sizeof(drv)), "vfio-pci") == 0) {
		snprintf(path, sizeof(path), "sys/bus/pci/devices/%s/driver_override", bdf);
		ovr = fx_read(s->fx, path);
		assert_false(ovr && strcmp(ovr, "vfio-pci") == 0);
		free(ovr);
		assert_false(fx_exists(s->fx, "run/iopass/journal"));
		return;
	}
	assert_consistent(s);
}

/* ---- the findings, one by one -------------------------------------------------- */

/*
 * A detach killed right after the NIC was probed back to e1000e; the host then
 * brings eno1 up with the default route. An unrelated writing run must not put
 * the NIC back on vfio-pci: it refuses, naming the journal and the route; a
 * detach of the NIC finishes the interrupted one without a write.
 */
static void test_detach_killed_then_host_uses_nic(void **state)
{
	struct sim s;
	struct run r;
	char *log;

	(void)state;
	sim_recovery(&s);
	RUN_OK(&s, "attach", "00:1f.6");
	assert_driver(&s, "0000:00:1f.6", "vfio-pci");
	set_kill(&s, "IOPASS_SIM_KILL_AFTER", 3); /* override, unbind, probe */
	SIM(&s, &r, "detach", "00:1f.6");
	assert_int_equal(r.status, 128 + SIGKILL);
	run_free(&r);
	s.env_kill[0] = '\0';
	assert_driver(&s, "0000:00:1f.6", "e1000e");
	nic_takes_default_route(s.fx);

	sim_log_reset(&s);
	SIM(&s, &r, "persist", "remove", "00:00.0");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "rolling back the interrupted detach: 0000:00:1f.6: "));
	assert_non_null(strstr(r.err, "eno1 is up and carries the default route"));
	assert_non_null(strstr(r.err, "/run/iopass/journal of an interrupted detach cannot be rolled "
				      "back safely"));
	run_free(&r);
	log = sim_log(&s);
	assert_string_equal(log, "");
	free(log);
	assert_driver(&s, "0000:00:1f.6", "e1000e");
	assert_true(fx_exists(s.fx, "run/iopass/journal"));

	/* the same from attach of another device, and from vf */
	SIM(&s, &r, "attach", "00:14.0");
	assert_int_equal(r.status, 3);
	run_free(&r);
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");

	/* detach of the NIC is what the interrupted run meant: it finishes it, writing nothing */
	SIM(&s, &r, "detach", "00:1f.6");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "iopass: detach: recovery: 0000:00:1f.6: the interrupted detach "
				      "is finished by this run\n"));
	assert_text_equal(r.out, "0000:00:1f.6: e1000e -> e1000e\n");
	run_free(&r);
	log = sim_log(&s);
	assert_string_equal(log, "");
	free(log);
	assert_driver(&s, "0000:00:1f.6", "e1000e");
	assert_consistent(&s);
	sim_close(&s);
}

/* --force rolls the interrupted detach back, as the refusal says; -J reports it */
static void test_detach_killed_forced_rollback(void **state)
{
	struct sim s;
	struct run r;

	(void)state;
	sim_recovery(&s);
	RUN_OK(&s, "attach", "00:1f.6");
	set_kill(&s, "IOPASS_SIM_KILL_AFTER", 3);
	SIM(&s, &r, "detach", "00:1f.6");
	run_free(&r);
	s.env_kill[0] = '\0';
	nic_takes_default_route(s.fx);
	SIM(&s, &r, "attach", "-J", "--force", "00:14.0");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "  \"recovered\": [\n"
				      "    {\n"
				      "      \"op\": \"detach\",\n"
				      "      \"target\": \"0000:00:1f.6\",\n"
				      "      \"action\": \"rolled-back\",\n"
				      "      \"driver\": \"vfio-pci\"\n"
				      "    }\n"
				      "  ]\n"));
	assert_non_null(strstr(r.err, "warning: forced: rolling back the interrupted detach: 0000:00:1f.6"));
	run_free(&r);
	assert_driver(&s, "0000:00:1f.6", "vfio-pci");
	assert_driver(&s, "0000:00:14.0", "vfio-pci");
	assert_consistent(&s);
	sim_close(&s);
}

/*
 * An attach killed after its record was written but before the journal went:
 * it completed. A VM opens the group; an unrelated attach rolls it forward
 * (nothing written to it) instead of pulling the device from under the VM.
 */
static void test_attach_completed_then_vm(void **state)
{
	struct sim s;
	struct run r;
	char *log;

	(void)state;
	sim_recovery(&s);
	/* override, unbind, probe are steps 2-4 after the journal (1); the record is 5 */
	KILLED_AFTER(&s, 5, "attach", "00:14.0");
	assert_true(fx_exists(s.fx, "run/iopass/journal"));
	assert_file(&s, "run/iopass/state", "iopass-state 1\n0000:00:14.0 xhci_hcd -");
	fx_printf(s.fx, "proc/4242/comm", "qemu-system-x86\n");
	fx_symlink(s.fx, "proc/4242/fd/20", "/dev/vfio/2");

	sim_log_reset(&s);
	SIM(&s, &r, "attach", "00:1f.6");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "iopass: attach: recovery: 0000:00:14.0: the interrupted attach had "
				      "completed; its journal is done\n"));
	run_free(&r);
	log = sim_log(&s);
	assert_null(strstr(log, "0000:00:14.0"));
	free(log);
	assert_driver(&s, "0000:00:14.0", "vfio-pci");
	assert_consistent(&s);
	sim_close(&s);
}

/* Killed before the record: a rollback, which a VM holding the group refuses. */
static void test_attach_interrupted_then_vm(void **state)
{
	struct sim s;
	struct run r;

	(void)state;
	sim_recovery(&s);
	KILLED_AFTER(&s, 4, "attach", "00:14.0"); /* after the probe */
	assert_driver(&s, "0000:00:14.0", "vfio-pci");
	fx_printf(s.fx, "proc/4242/comm", "qemu-system-x86\n");
	fx_symlink(s.fx, "proc/4242/fd/20", "/dev/vfio/2");

	SIM(&s, &r, "attach", "00:1f.6");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "rolling back the interrupted attach: 0000:00:14.0: group 2 is open "
				      "by qemu-system-x86 (pid 4242, /dev/vfio/2): a VM is using it"));
	run_free(&r);
	assert_driver(&s, "0000:00:14.0", "vfio-pci");
	assert_driver(&s, "0000:00:1f.6", "e1000e"); /* the attach did nothing */

	/* the VM goes: the next run rolls it back and says so */
	fx_unlink(s.fx, "proc/4242/fd/20");
	SIM(&s, &r, "attach", "00:1f.6");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "iopass: attach: recovery: 0000:00:14.0: the interrupted attach was "
				      "rolled back (on xhci_hcd again)\n"));
	run_free(&r);
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	assert_consistent(&s);
	sim_close(&s);
}

/* The journal names an address where another card sits now: that card is not touched. */
static void test_journal_other_card(void **state)
{
	struct sim s;
	struct run r;
	char *log;

	(void)state;
	sim_recovery(&s);
	set_kill(&s, "IOPASS_SIM_KILL_AFTER", 2); /* override and unbind: unbound */
	SIM(&s, &r, "attach", "00:1f.6");
	assert_int_equal(r.status, 128 + SIGKILL);
	run_free(&r);
	s.env_kill[0] = '\0';
	/* the NIC was swapped for another model (hotplug) before anything ran again */
	fx_printf(s.fx, "sys/bus/pci/devices/0000:00:1f.6/device", "0x15b8\n");
	fx_printf(s.fx, "sys/bus/pci/devices/0000:00:1f.6/driver_override", "(null)\n");

	sim_log_reset(&s);
	SIM(&s, &r, "attach", "00:14.0");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "iopass: attach: recovery: 0000:00:1f.6: another card sits there "
				      "now; the interrupted attach is not undone on it\n"));
	run_free(&r);
	log = sim_log(&s);
	assert_null(strstr(log, "0000:00:1f.6"));
	free(log);
	assert_false(fx_exists(s.fx, "run/iopass/journal"));
	sim_close(&s);

	/* killed after its record: the record of the old card goes too, not only the journal */
	sim_recovery(&s);
	KILLED_AFTER(&s, 5, "attach", "00:1f.6"); /* journal, override, unbind, probe, record */
	assert_file(&s, "run/iopass/state", "iopass-state 1\n0000:00:1f.6 e1000e -");
	fx_printf(s.fx, "sys/bus/pci/devices/0000:00:1f.6/device", "0x15b8\n");
	SIM(&s, &r, "persist", "remove", "00:00.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_false(fx_exists(s.fx, "run/iopass/state"));
	assert_false(fx_exists(s.fx, "run/iopass/journal"));
	sim_close(&s);
}

/* A journal of the release before (version 1, no identities) is still recovered. */
static void test_journal_v1(void **state)
{
	struct sim s;
	struct run r;

	(void)state;
	sim_recovery(&s);
	RUN_OK(&s, "attach", "00:14.0");
	fx_printf(s.fx, "run/iopass/journal", "iopass-journal 1\nop attach vfio-pci\n0000:00:14.0 xhci_hcd -\n");
	{
		char *p;

		assert_true(asprintf(&p, "%s/run/iopass/journal", fx_root(s.fx)) > 0);
		assert_int_equal(chmod(p, 0600), 0);
		free(p);
	}
	SIM(&s, &r, "detach", "--all");
	assert_int_equal(r.status, 0);
	/* completed (on vfio-pci, recorded): rolled forward, then detached */
	assert_non_null(strstr(r.err, "recovery: 0000:00:14.0: the interrupted attach had completed"));
	run_free(&r);
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	assert_consistent(&s);
	sim_close(&s);
}

/*
 * The lock race: a second attach waits for the lock while eno1 comes up with
 * the default route. Its guards run on what it sees once it holds the lock.
 */
static void test_lock_race(void **state)
{
	struct sim s;
	struct run r;
	pid_t pid;
	int st;

	(void)state;
	sim_recovery(&s);
	fx_add_net(s.fx, "0000:00:1f.6", "eno1", false);
	sim_log_reset(&s);
	snprintf(s.env_delay, sizeof(s.env_delay), "IOPASS_SIM_DELAY_MS=300");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct run r1;

		SIM(&s, &r1, "attach", "--group", "1"); /* 6 writes x 300 ms under the lock */
		_exit(r1.status);
	}
	/* the first run holds the lock once its first kernel write is logged */
	for (int i = 0; i < 3000 && !fx_exists(s.fx, "sim.log"); i++)
		usleep(10 * 1000);
	assert_true(fx_exists(s.fx, "sim.log"));
	s.env_delay[0] = '\0';
	{
		pid_t second = fork();

		assert_true(second >= 0);
		if (second == 0) {
			struct run r2;

			SIM(&s, &r2, "attach", "00:1f.6");
			fprintf(stderr, "%s", r2.err);
			_exit(r2.status);
		}
		usleep(300 * 1000); /* the second run scanned and waits for the lock */
		nic_takes_default_route(s.fx);
		assert_int_equal(waitpid(second, &st, 0), second);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 3);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_driver(&s, "0000:00:1f.6", "e1000e");
	(void)r;
	sim_close(&s);
}

/* ---- found by review ------------------------------------------------------------ */

/* Recovery rolls 01:00.0 back to nvidia; the run's own guard then sees it there (a new scan). */
static void test_guards_after_recovery(void **state)
{
	struct sim s;
	struct run r;

	(void)state;
	sim_recovery(&s);
	set_kill(&s, "IOPASS_SIM_KILL_AFTER", 3); /* 01:00.0 on vfio-pci, 01:00.1 untouched */
	SIM(&s, &r, "attach", "--group", "1");
	run_free(&r);
	s.env_kill[0] = '\0';
	assert_driver(&s, "0000:01:00.0", "vfio-pci");
	SIM(&s, &r, "attach", "01:00.1");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "group 1 is viable only when 0000:01:00.0 is attached too"));
	run_free(&r);
	assert_driver(&s, "0000:01:00.0", "nvidia");
	assert_driver(&s, "0000:01:00.1", "snd_hda_intel");
	/* 01:00.1's entry was left to the refused run: the next run drops it, writing nothing */
	sim_log_reset(&s);
	RUN_OK(&s, "persist", "remove", "00:00.0");
	{
		char *log = sim_log(&s);

		assert_string_equal(log, "");
		free(log);
	}
	assert_consistent(&s);
	sim_close(&s);
}

/* Attached again, to a variant driver: the record keeps the host driver; a failure goes back
 * to vfio-pci (with its override), and nothing jams. */
static void test_reattach_variant(void **state)
{
	struct sim s;
	struct run r;

	(void)state;
	sim_recovery(&s);
	fx_add_driver(s.fx, "vfio-pci-variant");
	/* a made-up variant for the USB controller, loaded: its driver's name is not its module's */
	fx_modules_alias(s.fx, NULL, "alias vfio_pci:v00008086d0000A2AFsv*sd*bc*sc*i* vfio_pci_variant\n");
	fx_mkdir(s.fx, "sys/module/vfio_pci_variant/drivers/pci:vfio-pci-variant");
	RUN_OK(&s, "attach", "--driver", "vfio-pci", "00:14.0");
	snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=probe:0000:00:14.0:EIO");
	SIM(&s, &r, "attach", "--driver", "vfio-pci-variant", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "the host is as it was"));
	run_free(&r);
	s.env_fail[0] = '\0';
	assert_driver(&s, "0000:00:14.0", "vfio-pci");
	assert_file(&s, "run/iopass/state", "iopass-state 1\n0000:00:14.0 xhci_hcd -");
	assert_false(fx_exists(s.fx, "run/iopass/journal"));
	RUN_OK(&s, "attach", "--driver", "vfio-pci-variant", "00:14.0");
	assert_driver(&s, "0000:00:14.0", "vfio-pci-variant");
	assert_file(&s, "run/iopass/state", "iopass-state 1\n0000:00:14.0 xhci_hcd -");
	/* a re-attach killed after its journal, resumed: the record still has the host driver */
	RUN_OK(&s, "attach", "--driver", "vfio-pci", "00:14.0");
	KILLED_AFTER(&s, 1, "attach", "--driver", "vfio-pci-variant", "00:14.0");
	RUN_OK(&s, "attach", "--driver", "vfio-pci-variant", "00:14.0");
	assert_file(&s, "run/iopass/state", "iopass-state 1\n0000:00:14.0 xhci_hcd -");
	RUN_OK(&s, "detach", "00:14.0");
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	sim_close(&s);
}

/* A detach left to this run that fails goes back to where the interrupted detach started. */
static void test_continued_detach_fails(void **state)
{
	struct sim s;
	struct run r;

	(void)state;
	sim_recovery(&s);
	RUN_OK(&s, "attach", "00:14.0");
	set_kill(&s, "IOPASS_SIM_KILL_AFTER", 2); /* override cleared, unbound */
	SIM(&s, &r, "detach", "00:14.0");
	run_free(&r);
	s.env_kill[0] = '\0';
	assert_driver(&s, "0000:00:14.0", "");
	snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=probe:0000:00:14.0:EIO");
	SIM(&s, &r, "detach", "00:14.0");
	assert_int_equal(r.status, 1);
	run_free(&r);
	s.env_fail[0] = '\0';
	assert_driver(&s, "0000:00:14.0", "vfio-pci");
	assert_file(&s, "run/iopass/state", "iopass-state 1\n0000:00:14.0 xhci_hcd -");
	RUN_OK(&s, "detach", "00:14.0");
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	assert_consistent(&s);
	sim_close(&s);
}

/* An empty generated file before the change: its before-image parses, and comes back empty. */
static void test_etc_journal_empty_file(void **state)
{
	struct sim s;
	struct run r;
	char *t;

	(void)state;
	sim_recovery(&s);
	fx_printf(s.fx, "etc/modprobe.d/iopass.conf", "%s", "");
	RUN_OK(&s, "attach", "00:14.0");
	/* the /etc journal, then the rule */
	KILLED_AFTER(&s, 2, "attach", "--persist", "--force", "00:14.0");
	assert_true(fx_exists(s.fx, "etc/iopass/journal"));
	SIM(&s, &r, "persist", "remove", "00:00.0");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "recovery: /etc/modprobe.d/iopass.conf: the interrupted persist "
				      "was rolled back"));
	run_free(&r);
	t = fx_read(s.fx, "etc/modprobe.d/iopass.conf");
	assert_non_null(t);
	assert_string_equal(t, "");
	free(t);
	assert_false(fx_exists(s.fx, "etc/udev/rules.d/60-iopass.rules"));
	assert_false(fx_exists(s.fx, "etc/iopass/journal"));
	sim_close(&s);
}

/* vf create --attach of VFs that exist (a nested attach) reports the recovery it ran. */
static void test_vf_attach_reports_recovery(void **state)
{
	struct sim s;
	struct run r;

	(void)state;
	sim_recovery(&s);
	RUN_OK(&s, "vf", "create", "03:00.0", "2");
	set_kill(&s, "IOPASS_SIM_KILL_AFTER", 2);
	SIM(&s, &r, "attach", "00:14.0");
	run_free(&r);
	s.env_kill[0] = '\0';
	SIM(&s, &r, "vf", "create", "--attach", "03:00.0", "2");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "recovery: 0000:00:14.0: the interrupted attach was rolled back"));
	run_free(&r);
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	sim_close(&s);
}

/*
 * detach of a device on vfio-pci that iopass has no record of (the udev rule put it there
 * at boot, /run/iopass/state is gone), killed after each step: the recovery never leaves
 * it without a driver (the probe a killed run did not get to is made).
 */
static void test_detach_unrecorded_killed(void **state)
{
	int steps = 0, unbound = 0;

	(void)state;
	for (int k = 1;; k++) {
		struct sim s;
		struct run r;
		char drv[64];

		sim_recovery(&s);
		RUN_OK(&s, "attach", "00:14.0");
		fx_unlink(s.fx, "run/iopass/state");
		set_kill(&s, "IOPASS_SIM_KILL_AFTER_OP", k);
		SIM(&s, &r, "detach", "00:14.0");
		s.env_kill[0] = '\0';
		if (r.status == 0) {
			run_free(&r);
			assert_driver(&s, "0000:00:14.0", "xhci_hcd");
			sim_close(&s);
			break;
		}
		assert_int_equal(r.status, 128 + SIGKILL);
		run_free(&r);
		if (!*fx_driver(s.fx, "0000:00:14.0", drv, sizeof(drv))) {
			/* killed between the unbind and the probe; a probe that fails keeps the
			 * journal, and says so */
			snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=probe:0000:00:14.0:EIO");
			SIM(&s, &r, "persist", "remove", "00:00.0");
			assert_int_equal(r.status, 1);
			assert_non_null(strstr(r.err, "0000:00:14.0: cannot finish the interrupted detach"));
			run_free(&r);
			assert_true(fx_exists(s.fx, "run/iopass/journal"));
			s.env_fail[0] = '\0';
			unbound++;
		}
		SIM(&s, &r, "persist", "remove", "00:00.0");
		assert_int_equal(r.status, 0);
		run_free(&r);
		fx_driver(s.fx, "0000:00:14.0", drv, sizeof(drv));
		if (!*drv)
			fprintf(stderr, "detach of an unrecorded device, killed after step %d: left "
					"without a driver\n", k);
		assert_true(*drv);
		assert_false(fx_exists(s.fx, "run/iopass/journal"));
		RUN_OK(&s, "detach", "00:14.0");
		assert_driver(&s, "0000:00:14.0", "xhci_hcd");
		sim_close(&s);
		steps = k;
	}
	assert_true(steps >= 2);
	assert_int_equal(unbound, 1); /* the step this is about was among them */
}

/*
 * A change of the desired state alone (the record stays as it is), killed after its
 * journal: the next run puts the desired state back, and says so; it does not take the
 * unchanged record for the change having completed.
 */
static void test_etc_journal_desired_only(void **state)
{
	struct sim s;
	struct run r;

	(void)state;
	sim_recovery(&s);
	RUN_OK(&s, "attach", "--persist", "00:14.0");
	fx_printf(s.fx, "etc/iopass/desired", "0000:01:00.0 10de:1b80 host\n");
	KILLED_AFTER(&s, 1, "attach", "--persist", "00:14.0"); /* the /etc journal is written */
	assert_true(fx_exists(s.fx, "etc/iopass/journal"));
	SIM(&s, &r, "persist", "remove", "00:00.0");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "recovery: /etc/iopass/desired: the interrupted persist was "
				      "rolled back"));
	run_free(&r);
	assert_file(&s, "etc/iopass/desired", "0000:01:00.0 10de:1b80 host");
	/* killed after the desired state is written: that is the change, rolled forward */
	KILLED_AFTER(&s, 2, "attach", "--persist", "00:14.0");
	SIM(&s, &r, "persist", "remove", "00:00.0");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "recovery: /etc/iopass/desired: the interrupted persist had "
				      "completed"));
	run_free(&r);
	assert_file(&s, "etc/iopass/desired", "0000:01:00.0 10de:1b80 host\n"
					      "0000:00:14.0 8086:a2af/0000:0000 vfio-pci boot");
	assert_consistent(&s);
	sim_close(&s);
}

/* ---- the crash matrix ----------------------------------------------------------- */

enum variant { PLAIN, VM_OPENED, HOST_USES, NVARIANTS };
static const char *const variant_names[] = { "plain", "a VM opened the group", "the host uses it" };

struct command {
	const char *name;
	const char *const setup[6]; /* run first, to completion */
	const char *const argv[6];
	void (*stage)(struct sim *s); /* then this, and again before the run after recovery */
	const char *vm_keeps;         /* left on vfio-pci, unrecorded, while a VM holds its group */
};

/* A stale udev rule's override took the controller: on vfio-pci, no record, no persistence. */
static void stale_rule_claimed(struct sim *s)
{
	char drv[64];

	if (strcmp(fx_driver(s->fx, "0000:00:14.0", drv, sizeof(drv)), "vfio-pci") != 0)
		RUN_OK(s, "attach", "00:14.0");
	fx_unlink(s->fx, "run/iopass/state");
	fx_printf(s->fx, "sys/bus/pci/devices/0000:00:14.0/driver_override", "vfio-pci\n");
}

static const struct command commands[] = {
	{ "attach", { NULL }, { "attach", "--group", "1", NULL } },
	{ "detach", { "attach", "--group", "1", NULL }, { "detach", "--group", "1", NULL } },
	{ "vf create --attach", { NULL }, { "vf", "create", "--attach", "03:00.0", "2", NULL } },
	{ "vf remove", { "vf", "create", "--attach", "03:00.0", "2", NULL },
	  { "vf", "remove", "03:00.0", NULL } },
	{ "attach --persist", { NULL }, { "attach", "--persist", "00:14.0", NULL } },
	{ "detach --persist", { "attach", "--persist", "00:14.0", NULL },
	  { "detach", "--persist", "00:14.0", NULL } },
	{ "__udev-bind of a stale rule", { NULL }, { "__udev-bind", "0000:00:14.0", NULL },
	  stale_rule_claimed, "0000:00:14.0" },
};

/* What happened in between: a VM opened every VFIO group there is, or the host took the GPU. */
static void variant_apply(struct sim *s, enum variant v)
{
	if (v == VM_OPENED) {
		fx_printf(s->fx, "proc/4242/comm", "qemu-system-x86\n");
		for (int g = 0; g < 16; g++) {
			char node[32], fd[32];

			snprintf(node, sizeof(node), "dev/vfio/%d", g);
			snprintf(fd, sizeof(fd), "proc/4242/fd/%d", 20 + g);
			if (fx_exists(s->fx, node)) {
				snprintf(node, sizeof(node), "/dev/vfio/%d", g);
				fx_symlink(s->fx, fd, node);
			}
		}
	} else if (v == HOST_USES) {
		/* a compositor opens the GPU's card node, eno1 carries the default route */
		fx_add_class_node(s->fx, "0000:01:00.0", "drm", "drm", "card0", "dri/card0");
		fx_printf(s->fx, "proc/4243/comm", "kwin_wayland\n");
		fx_symlink(s->fx, "proc/4243/fd/5", "/dev/dri/card0");
		nic_takes_default_route(s->fx);
	}
}

static void variant_undo(struct sim *s, enum variant v)
{
	if (v == VM_OPENED)
		for (int g = 0; g < 16; g++) {
			char fd[32];

			snprintf(fd, sizeof(fd), "proc/4242/fd/%d", 20 + g);
			fx_unlink(s->fx, fd);
		}
	else if (v == HOST_USES)
		fx_unlink(s->fx, "proc/4243/fd/5");
}

/*
 * An interrupted unclaim whose finish fails (the unbind is refused): every later
 * writing run says why and keeps the journal; with --force the run leaves the
 * device as it is, says so, and the journal goes.
 */
static void test_unclaim_finish_fails(void **state)
{
	struct sim s;
	struct run r;

	(void)state;
	sim_recovery(&s);
	stale_rule_claimed(&s);
	KILLED_AFTER(&s, 2, "__udev-bind", "0000:00:14.0"); /* the journal, the override cleared */
	assert_driver(&s, "0000:00:14.0", "vfio-pci");
	snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=unbind:0000:00:14.0:EBUSY");
	SIM(&s, &r, "persist", "remove", "00:00.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "0000:00:14.0: cannot finish the interrupted unclaim"));
	assert_non_null(strstr(r.err, "pass --force to leave the device as it is"));
	run_free(&r);
	assert_true(fx_exists(s.fx, "run/iopass/journal"));
	/* the udev helper itself says why too */
	fx_printf(s.fx, "sys/bus/pci/devices/0000:00:14.0/driver_override", "vfio-pci\n");
	SIM(&s, &r, "__udev-bind", "0000:00:14.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "iopass: __udev-bind: 0000:00:14.0: "));
	run_free(&r);
	SIM(&s, &r, "persist", "remove", "--force", "00:00.0");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "0000:00:14.0"));
	run_free(&r);
	assert_false(fx_exists(s.fx, "run/iopass/journal"));
	assert_driver(&s, "0000:00:14.0", "vfio-pci");
	/* the fault gone, the stale rule's next claim is given back as always */
	s.env_fail[0] = '\0';
	fx_printf(s.fx, "sys/bus/pci/devices/0000:00:14.0/driver_override", "vfio-pci\n");
	SIM(&s, &r, "__udev-bind", "0000:00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	assert_consistent(&s);
	sim_close(&s);
}

/* A USB controller alone on bus 07 whose kernel offers three reset methods. */
static void add_xhci_with_resets(struct sim *s)
{
	fx_add(s->fx, &FX_DEV(.bdf = "0000:07:00.0", .vendor = 0x1b21, .device = 0x2142,
			      .class = 0x0c0330, .driver = "xhci_hcd", .group = 12,
			      .pcie = FX_PCIE_ENDPOINT, .flr = true, .reset_method = "flr pm bus"));
}

static char *reset_methods(struct sim *s, const char *bdf)
{
	char *p, *text;

	assert_true(asprintf(&p, "sys/bus/pci/devices/%s/reset_method", bdf) > 0);
	text = fx_read(s->fx, p);
	free(p);
	return text;
}
#define assert_resets(s, bdf, expected)                                                         \
	do {                                                                                    \
		char *m_ = reset_methods((s), (bdf));                                           \
		assert_text_equal(m_, (expected));                                              \
		free(m_);                                                                       \
	} while (0)

/*
 * attach --reset-method: written first and read back, journaled, recorded with
 * what the device had; detach gives that back; a write the kernel refuses, or a
 * later step that fails, leaves the methods as they were.
 */
static void test_reset_method(void **state)
{
	struct sim s;
	struct run r;

	(void)state;
	sim_recovery(&s);
	add_xhci_with_resets(&s);
	RUN_OK(&s, "attach", "--reset-method", "bus,flr", "07:00.0");
	assert_driver(&s, "0000:07:00.0", "vfio-pci");
	assert_resets(&s, "0000:07:00.0", "bus flr");
	assert_file(&s, "run/iopass/state", "iopass-state 2\n0000:07:00.0 xhci_hcd - reset=flr,pm,bus");
	/* attached already with other methods: refused, not silently unrecorded */
	SIM(&s, &r, "attach", "--reset-method", "pm", "07:00.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "0000:07:00.0 is on vfio-pci already, with reset_method 'bus "
				      "flr': detach it first to attach it with 'pm'"));
	run_free(&r);
	RUN_OK(&s, "attach", "--reset-method", "bus flr", "07:00.0"); /* the same: unchanged */
	RUN_OK(&s, "detach", "07:00.0");
	assert_driver(&s, "0000:07:00.0", "xhci_hcd");
	assert_resets(&s, "0000:07:00.0", "flr pm bus");
	assert_file(&s, "run/iopass/state", NULL);

	/* a method the device does not have: the kernel refuses, nothing else happens */
	SIM(&s, &r, "attach", "--reset-method", "acpi", "07:00.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "0000:07:00.0: writing 'acpi' to reset_method failed: Invalid "
				      "argument"));
	assert_non_null(strstr(r.err, "the host is as it was"));
	run_free(&r);
	assert_driver(&s, "0000:07:00.0", "xhci_hcd");
	assert_resets(&s, "0000:07:00.0", "flr pm bus");
	/* a later step fails: the methods go back with the driver */
	snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=probe:0000:07:00.0:EIO");
	SIM(&s, &r, "attach", "--reset-method", "pm", "07:00.0");
	assert_int_equal(r.status, 1);
	run_free(&r);
	s.env_fail[0] = '\0';
	assert_driver(&s, "0000:07:00.0", "xhci_hcd");
	assert_resets(&s, "0000:07:00.0", "flr pm bus");
	/* bad values and --persist: usage errors */
	static const char *const bad[] = { "foo", "flr,flr", "", ",", "default", "FLR" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		SIM(&s, &r, "attach", "--reset-method", bad[i], "07:00.0");
		assert_int_equal(r.status, 2);
		assert_non_null(strstr(r.err, "--reset-method '"));
		run_free(&r);
	}
	SIM(&s, &r, "attach", "--persist", "--reset-method", "flr", "07:00.0");
	assert_int_equal(r.status, 2);
	run_free(&r);
	assert_driver(&s, "0000:07:00.0", "xhci_hcd");
	assert_resets(&s, "0000:07:00.0", "flr pm bus");
	/* the old list refused on the way back (pm no longer offered): the driver still comes back */
	RUN_OK(&s, "attach", "--reset-method", "bus", "07:00.0");
	{
		char *sup;

		assert_true(asprintf(&sup, "%s/.sim-reset-default", fx_dev_dir(s.fx, "0000:07:00.0")) > 0);
		fx_printf(s.fx, sup, "flr bus\n");
		free(sup);
	}
	SIM(&s, &r, "detach", "07:00.0");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "warning: 0000:07:00.0: the kernel does not take its reset "
				      "methods 'flr pm bus' back (Invalid argument); they stay 'bus'"));
	run_free(&r);
	assert_driver(&s, "0000:07:00.0", "xhci_hcd");
	assert_resets(&s, "0000:07:00.0", "bus");
	assert_file(&s, "run/iopass/state", NULL);
	/* a kernel before 5.15: no attribute, nothing written */
	char *attr;

	assert_true(asprintf(&attr, "%s/reset_method", fx_dev_dir(s.fx, "0000:07:00.0")) > 0);
	fx_unlink(s.fx, attr);
	free(attr);
	sim_log_reset(&s);
	SIM(&s, &r, "attach", "--reset-method", "flr", "07:00.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "0000:07:00.0 has no reset_method attribute: choosing reset "
				      "methods needs Linux 5.15 or newer; nothing was changed"));
	run_free(&r);
	char *log = sim_log(&s);

	assert_string_equal(log, "");
	free(log);
	assert_driver(&s, "0000:07:00.0", "xhci_hcd");
	sim_close(&s);
}

/*
 * attach --reset-method and its detach killed after each durable step: the
 * next run recovers, and after a detach the device has its driver and its
 * reset methods back, whatever step the kill came after.
 */
static void test_reset_method_killed(void **state)
{
	int attach_steps = 0, detach_steps = 0;

	(void)state;
	for (int k = 1;; k++) {
		struct sim s;
		struct run r;

		sim_recovery(&s);
		add_xhci_with_resets(&s);
		set_kill(&s, "IOPASS_SIM_KILL_AFTER_OP", k);
		SIM(&s, &r, "attach", "--reset-method", "bus", "07:00.0");
		s.env_kill[0] = '\0';
		bool done = r.status == 0;

		if (!done)
			assert_int_equal(r.status, 128 + SIGKILL);
		run_free(&r);
		/* resumed without the option: what the device had is still what detach gives back */
		RUN_OK(&s, "attach", "07:00.0");
		RUN_OK(&s, "detach", "07:00.0");
		assert_driver(&s, "0000:07:00.0", "xhci_hcd");
		assert_resets(&s, "0000:07:00.0", "flr pm bus");
		assert_false(fx_exists(s.fx, "run/iopass/journal"));
		sim_close(&s);
		attach_steps = k;
		if (done)
			break;
	}
	for (int k = 1;; k++) {
		struct sim s;
		struct run r;

		sim_recovery(&s);
		add_xhci_with_resets(&s);
		RUN_OK(&s, "attach", "--reset-method", "bus", "07:00.0");
		set_kill(&s, "IOPASS_SIM_KILL_AFTER_OP", k);
		SIM(&s, &r, "detach", "07:00.0");
		s.env_kill[0] = '\0';
		bool done = r.status == 0;

		if (!done)
			assert_int_equal(r.status, 128 + SIGKILL);
		run_free(&r);
		/* resumed, and failing: back where the killed detach started, methods included */
		snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=probe:0000:07:00.0:EIO");
		SIM(&s, &r, "detach", "07:00.0");
		s.env_fail[0] = '\0';
		run_free(&r);
		char drv[64], *m = reset_methods(&s, "0000:07:00.0");

		fx_driver(s.fx, "0000:07:00.0", drv, sizeof(drv));
		if (strcmp(drv, "vfio-pci") == 0)
			assert_text_equal(m, "bus");
		else
			assert_text_equal(m, "flr pm bus");
		free(m);
		RUN_OK(&s, "detach", "07:00.0");
		assert_driver(&s, "0000:07:00.0", "xhci_hcd");
		assert_resets(&s, "0000:07:00.0", "flr pm bus");
		assert_false(fx_exists(s.fx, "run/iopass/state"));
		sim_close(&s);
		detach_steps = k;
		if (done)
			break;
	}
	/* journal, reset, override, unbind, probe, record (attach); journal, reset, override, unbind, probe, record */
	assert_true(attach_steps >= 6);
	assert_true(detach_steps >= 6);
}

static void test_crash_matrix(void **state)
{
	int cases = 0, refused = 0, completed_runs = 0, steps_total = 0;

	(void)state;
	if (getenv("IOPASS_TEST_QUICK")) {
		skip();
		return;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		int steps = 0;

		for (int k = 1;; k++) {
			bool done = false;

			for (int v = 0; v < NVARIANTS; v++) {
				struct sim s;
				struct run r;

				sim_recovery(&s);
				RUN_OK(&s, "vf", "remove", "03:00.0"); /* no VF without a record */
				if (commands[c].setup[0])
					run_ok(&s, commands[c].setup);
				if (commands[c].stage)
					commands[c].stage(&s);
				set_kill(&s, "IOPASS_SIM_KILL_AFTER_OP", k);
				sim_run(&s, &r, commands[c].argv);
				s.env_kill[0] = '\0';
				if (r.status == 0 || r.status == 1) {
					/* fewer than k steps: the run completed (or failed and rolled back) */
					run_free(&r);
					sim_close(&s);
					done = true;
					break;
				}
				assert_int_equal(r.status, 128 + SIGKILL);
				run_free(&r);
				variant_apply(&s, (enum variant)v);
				SIM(&s, &r, "persist", "remove", "00:00.0");
				if (r.status == 3) {
					/* blocked: said, and nothing guessed; the journal stays for later */
					assert_non_null(strstr(r.err, "cannot be rolled back safely"));
					assert_true(fx_exists(s.fx, "run/iopass/journal"));
					refused++;
					run_free(&r);
					variant_undo(&s, (enum variant)v);
					SIM(&s, &r, "persist", "remove", "00:00.0");
				}
				if (r.status != 0)
					fprintf(stderr, "%s, killed after step %d, %s: %d: %s", commands[c].name, k,
						variant_names[v], r.status, r.err);
				assert_int_equal(r.status, 0);
				run_free(&r);
				variant_undo(&s, (enum variant)v);
				if (v == VM_OPENED && commands[c].vm_keeps)
					assert_kept_for_vm(&s, commands[c].vm_keeps);
				else
					assert_consistent(&s);
				/* and the command then works */
				if (commands[c].stage)
					commands[c].stage(&s);
				run_ok(&s, commands[c].argv);
				assert_consistent(&s);
				cases++;
				sim_close(&s);
			}
			if (done)
				break;
			steps = k;
		}
		completed_runs++;
		steps_total += steps;
		fprintf(stderr, "crash matrix: %s: %d durable steps, each killed in %d variants\n",
			commands[c].name, steps, NVARIANTS);
	}
	fprintf(stderr, "crash matrix: %d commands, %d steps, %d cases; %d recoveries refused until the "
			"VM or the host let go\n",
		completed_runs, steps_total, cases, refused);
	assert_int_equal(cases, steps_total * NVARIANTS);
	assert_true(refused > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detach_killed_then_host_uses_nic),
		cmocka_unit_test(test_detach_killed_forced_rollback),
		cmocka_unit_test(test_attach_completed_then_vm),
		cmocka_unit_test(test_attach_interrupted_then_vm),
		cmocka_unit_test(test_journal_other_card),
		cmocka_unit_test(test_journal_v1),
		cmocka_unit_test(test_lock_race),
		cmocka_unit_test(test_guards_after_recovery),
		cmocka_unit_test(test_reattach_variant),
		cmocka_unit_test(test_detach_unrecorded_killed),
		cmocka_unit_test(test_etc_journal_desired_only),
		cmocka_unit_test(test_continued_detach_fails),
		cmocka_unit_test(test_etc_journal_empty_file),
		cmocka_unit_test(test_vf_attach_reports_recovery),
		cmocka_unit_test(test_unclaim_finish_fails),
		cmocka_unit_test(test_crash_matrix),
		cmocka_unit_test(test_reset_method),
		cmocka_unit_test(test_reset_method_killed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

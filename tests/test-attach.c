// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * attach and detach against the simulated kernel: the write sequence, guards,
 * idempotence, dry runs, every injected failure, SIGKILL after each step,
 * concurrent runs, and hostile state files.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "testutil.h"

/* The run is a usage error, with that message on stderr (NULL: any). */
static void assert_exit_2(struct sim *s, const char *err, const char *const argv[])
{
	struct run r;

	sim_run(s, &r, argv);
	assert_int_equal(r.status, 2);
	if (err)
		assert_text_equal(r.err, err);
	run_free(&r);
}
#define EXIT_2(s, ...) assert_exit_2((s), NULL, (const char *const[]){ __VA_ARGS__, NULL })
#define USAGE_ERR(s, err, ...) assert_exit_2((s), (err), (const char *const[]){ __VA_ARGS__, NULL })

/* attach of dev succeeds, prints out and writes nothing to the kernel */
static void assert_attach_noop(struct sim *s, const char *dev, const char *out)
{
	struct run r;
	char *log;

	sim_log_reset(s);
	SIM(s, &r, "attach", dev);
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, out);
	run_free(&r);
	log = sim_log(s);
	assert_string_equal(log, "");
	free(log);
}

static void test_attach_detach(void **state)
{
	struct sim s;
	struct run r;
	char *log;

	(void)state;
	sim_open(&s, fx_workstation());
	SIM(&s, &r, "attach", "00:14.0");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:00:14.0: xhci_hcd -> vfio-pci\n");
	assert_string_equal(r.err, "");
	run_free(&r);
	assert_driver(&s, "0000:00:14.0", "vfio-pci");
	assert_true(fx_exists(s.fx, "dev/vfio/2"));
	assert_file(&s, "run/iopass/state", "iopass-state 1\n0000:00:14.0 xhci_hcd -");
	assert_file(&s, "run/iopass/journal", NULL);
	/* the kernel's recommended sequence, nothing else */
	log = sim_log(&s);
	assert_text_equal(log, "override 0000:00:14.0 vfio-pci ok\n"
			       "unbind 0000:00:14.0 xhci_hcd ok\n"
			       "probe 0000:00:14.0 \\n ok");
	free(log);

	/* idempotent: no write at all */
	assert_attach_noop(&s, "0000:00:14.0", "0000:00:14.0: unchanged (vfio-pci)\n");

	/* detach: back to the recorded driver, record and node gone */
	SIM(&s, &r, "detach", "00:14.0");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:00:14.0: vfio-pci -> xhci_hcd\n");
	run_free(&r);
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	assert_false(fx_exists(s.fx, "dev/vfio/2"));
	assert_file(&s, "run/iopass/state", NULL);
	assert_file(&s, "sys/bus/pci/devices/0000:00:14.0/driver_override", "(null)");
	log = sim_log(&s);
	assert_text_equal(log, "override 0000:00:14.0 \\n ok\n"
			       "unbind 0000:00:14.0 vfio-pci ok\n"
			       "probe 0000:00:14.0 \\n ok");
	free(log);
	sim_close(&s);
}

static void test_dry_run(void **state)
{
	struct sim s;
	struct run r;
	char *log, expected[2048];

	(void)state;
	sim_open(&s, fx_secondary_gpu());
	SIM(&s, &r, "attach", "--dry-run", "--group", "1");
	assert_int_equal(r.status, 0);
	snprintf(expected, sizeof(expected),
		 "would write, in order:\n"
		 "  echo vfio-pci > %1$s/sys/bus/pci/devices/0000:01:00.0/driver_override\n"
		 "  echo 0000:01:00.0 > %1$s/sys/bus/pci/drivers/nvidia/unbind\n"
		 "  echo 0000:01:00.0 > %1$s/sys/bus/pci/drivers_probe\n"
		 "  echo vfio-pci > %1$s/sys/bus/pci/devices/0000:01:00.1/driver_override\n"
		 "  echo 0000:01:00.1 > %1$s/sys/bus/pci/drivers/snd_hda_intel/unbind\n"
		 "  echo 0000:01:00.1 > %1$s/sys/bus/pci/drivers_probe\n",
		 fx_root(s.fx));
	assert_text_equal(r.out, expected);
	run_free(&r);
	/* nothing written: no kernel write, no state directory */
	log = sim_log(&s);
	assert_string_equal(log, "");
	free(log);
	/* judged under the lock (run/iopass/lock), with no journal and no record */
	assert_false(fx_exists(s.fx, "run/iopass/journal"));
	assert_false(fx_exists(s.fx, "run/iopass/state"));
	assert_driver(&s, "0000:01:00.0", "nvidia");

	/* the plan pastes into a shell: a sysroot with a blank and a quote stays one word */
	{
		char link[128], script[8192], words[8192], want[4096];
		FILE *p;
		size_t n;

		snprintf(link, sizeof(link), "/tmp/iopass dry 'run' $(x)-%d", (int)getpid());
		unlink(link);
		assert_int_equal(symlink(fx_root(s.fx), link), 0);
		RUN(&r, link, "attach", "--dry-run", "00:14.0");
		assert_int_equal(r.status, 0);
		/* each "echo V > P" as "w V P": the words the shell makes of V and P */
		n = (size_t)snprintf(script, sizeof(script), "w() { printf '%%s\\n' \"$@\"; }\n");
		for (char *save = NULL, *l = strtok_r(r.out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char *gt = strstr(l, " > ");

			if (strncmp(l, "  echo ", 7) != 0 || !gt)
				continue;
			*gt = '\0';
			n += (size_t)snprintf(script + n, sizeof(script) - n, "w %s %s\n", l + 7, gt + 3);
		}
		p = popen(script, "r");
		assert_non_null(p);
		n = fread(words, 1, sizeof(words) - 1, p);
		words[n] = '\0';
		assert_int_equal(pclose(p), 0);
		snprintf(want, sizeof(want),
			 "vfio-pci\n%1$s/sys/bus/pci/devices/0000:00:14.0/driver_override\n"
			 "0000:00:14.0\n%1$s/sys/bus/pci/drivers/xhci_hcd/unbind\n"
			 "0000:00:14.0\n%1$s/sys/bus/pci/drivers_probe\n", link);
		assert_text_equal(words, want);
		unlink(link);
		run_free(&r);
	}

	/* JSON plan */
	SIM(&s, &r, "attach", "-n", "-J", "00:14.0");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"ok\": true,\n  \"dry_run\": true,\n  \"error\": null,\n"));
	assert_non_null(strstr(r.out, "\"bdf\": \"0000:00:14.0\",\n      \"from\": \"xhci_hcd\",\n"
				      "      \"to\": \"vfio-pci\",\n      \"status\": \"planned\""));
	assert_non_null(strstr(r.out, "\"path\": \"/sys/bus/pci/drivers_probe\",\n"
				      "      \"value\": \"0000:00:14.0\",\n      \"result\": \"not-run\""));
	run_free(&r);
	log = sim_log(&s);
	assert_string_equal(log, "");
	free(log);
	sim_close(&s);
}

static void test_group(void **state)
{
	struct sim s;
	struct run r;

	(void)state;
	sim_open(&s, fx_secondary_gpu());
	/* one function alone: refused, names the other, suggests --group */
	SIM(&s, &r, "attach", "01:00.0");
	assert_int_equal(r.status, 3);
	assert_text_equal(r.err,
		"iopass: attach: 0000:01:00.0: group 1 is viable only when 0000:01:00.1 is attached too "
		"(bound to host drivers now); pass --force to override\n"
		"  fix: attach the whole group: iopass attach --group 1\n"
		"iopass: attach: refused: nothing was changed\n");
	run_free(&r);
	assert_driver(&s, "0000:01:00.0", "nvidia");

	SIM(&s, &r, "attach", "--group", "1");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:01:00.0: nvidia -> vfio-pci\n0000:01:00.1: snd_hda_intel -> vfio-pci\n");
	run_free(&r);
	assert_driver(&s, "0000:01:00.0", "vfio-pci");
	assert_driver(&s, "0000:01:00.1", "vfio-pci");
	assert_driver(&s, "0000:00:01.0", "pcieport"); /* the bridge stays */
	assert_true(fx_exists(s.fx, "dev/vfio/1"));

	/* JSON after the fact; then detach the group with --all */
	SIM(&s, &r, "detach", "--all", "-J");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"status\": \"detached\""));
	run_free(&r);
	assert_driver(&s, "0000:01:00.0", "nvidia");
	assert_driver(&s, "0000:01:00.1", "snd_hda_intel");
	assert_false(fx_exists(s.fx, "dev/vfio/1"));

	/* a slot names the whole card: every function of it, the bridge above not */
	SIM(&s, &r, "attach", "01:00");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:01:00.0: nvidia -> vfio-pci\n0000:01:00.1: snd_hda_intel -> vfio-pci\n");
	run_free(&r);
	assert_driver(&s, "0000:00:01.0", "pcieport");
	SIM(&s, &r, "detach", "0000:01:00");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_driver(&s, "0000:01:00.0", "nvidia");
	assert_driver(&s, "0000:01:00.1", "snd_hda_intel");
	/* a slot with no card, and one that is no slot: usage errors, nothing read or written */
	SIM(&s, &r, "attach", "05:1f");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: attach: 0000:05:1f: no PCI card in that slot; 'iopass list' "
				 "shows the devices\n");
	run_free(&r);
	SIM(&s, &r, "attach", "00:01");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: attach: 0000:00:01: only a bridge is in that slot, and "
				 "bridges are not passed through: name the devices behind it; 'iopass "
				 "list' shows the devices\n");
	run_free(&r);
	assert_driver(&s, "0000:00:01.0", "pcieport");
	SIM(&s, &r, "attach", "01:20");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: attach: '01:20' is not a PCI address; use DDDD:BB:SS.F or "
				 "BB:SS.F for a function, DDDD:BB:SS or BB:SS for every function of a "
				 "card, e.g. 0000:01:00.0 or 01:00\n");
	run_free(&r);
	/* --card DEV and card:DEV: the card the function is on, as its slot */
	SIM(&s, &r, "attach", "--card", "01:00.1");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:01:00.0: nvidia -> vfio-pci\n0000:01:00.1: snd_hda_intel -> vfio-pci\n");
	run_free(&r);
	SIM(&s, &r, "detach", "card:0000:01:00.0", "-J");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"bdf\": \"0000:01:00.1\""));
	run_free(&r);
	assert_driver(&s, "0000:01:00.0", "nvidia");
	assert_driver(&s, "0000:01:00.1", "snd_hda_intel");
	/* a VF is on no card of its own; bad or absent functions; nothing written */
	sim_log_reset(&s);
	USAGE_ERR(&s, "iopass: attach: card:0000:03:00.3: a virtual function is a device of its own, "
		      "on no card of its own; name it, or its PF's card (card:0000:03:00.0)\n",
		  "attach", "--card", "03:00.3");
	USAGE_ERR(&s, "iopass: attach: --card '01:00': not a PCI address; name a function of the "
		      "card, DDDD:BB:SS.F or BB:SS.F, e.g. 01:00.1\n",
		  "attach", "--card", "01:00");
	USAGE_ERR(&s, "iopass: attach: '01:00' is not a card; use card:DDDD:BB:SS.F or card:BB:SS.F, "
		      "a function of the card, e.g. card:01:00.1\n",
		  "attach", "card:01:00");
	USAGE_ERR(&s, "iopass: attach: 0000:05:00.0: no such PCI device; 'iopass list' shows the "
		      "devices\n",
		  "attach", "--card", "05:00.0");
	EXIT_2(&s, "attach", "--card", "00:01.0");
	char *log = sim_log(&s);

	assert_string_equal(log, "");
	free(log);
	assert_driver(&s, "0000:03:00.3", "");
	sim_close(&s);
}

static void test_guards(void **state)
{
	struct sim s;
	struct run r;
	char *log;

	(void)state;
	sim_open(&s, fx_workstation());
	/* the boot GPU: refused, nothing written */
	SIM(&s, &r, "attach", "--group", "1");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "iopass: attach: 0000:01:00.0: the firmware's boot display device "
				      "(boot_vga=1): the host console is on it; pass --force to override\n"));
	run_free(&r);
	log = sim_log(&s);
	assert_string_equal(log, "");
	free(log);
	/* judged under the lock (run/iopass/lock), with no journal and no record */
	assert_false(fx_exists(s.fx, "run/iopass/journal"));
	assert_false(fx_exists(s.fx, "run/iopass/state"));

	/* a group that is not viable blocks unless forced, and says which effect it has */
	SIM(&s, &r, "attach", "-J", "01:00.1");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.out, "\"code\": \"group-not-viable\",\n      \"effect\": \"not-viable\","));
	run_free(&r);

	/* --force takes it, and says what it took */
	SIM(&s, &r, "attach", "--group", "1", "--force");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "iopass: attach: warning: forced: 0000:01:00.0: the firmware's boot display device"));
	run_free(&r);
	assert_driver(&s, "0000:01:00.0", "vfio-pci");

	/* a bridge: impossible, even forced */
	SIM(&s, &r, "attach", "00:01.0", "--force");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "0000:00:01.0: is a bridge or port, not an endpoint"));
	run_free(&r);
	assert_driver(&s, "0000:00:01.0", "pcieport");

	/* the host bridge too, and the refusal says so rather than offering --force; -J has the effect */
	SIM(&s, &r, "attach", "-J", "00:00.0", "--force");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "0000:00:00.0: is the host bridge, the CPU's link to every other "
				      "device: it cannot be passed through; it cannot be passed through\n"));
	assert_null(strstr(r.err, "pass --force"));
	assert_non_null(strstr(r.out, "\"code\": \"host-bridge\",\n      \"effect\": \"blocks\","));
	run_free(&r);

	sim_close(&s);
}

/* As root, a writing command takes its root from --sysroot only, never from the environment. */
static void test_sysroot_env_as_root(void **state)
{
	struct fx *fx = fx_workstation();
	char *env;
	struct run r;

	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "SKIPPED: not root; the rule is root's\n");
		fx_free(fx);
		skip();
		return;
	}
	assert_true(asprintf(&env, "IOPASS_SYSROOT=%s", fx_root(fx)) > 0);
	/* a read: the environment names the tree */
	run_iopass_env(&r, NULL, (const char *const[]){ env, NULL },
		       (const char *const[]){ "list", "-n", "-r", "-o", "BDF", "03:00.2", NULL });
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "0000:03:00.2\n");
	run_free(&r);
	/* a write (a dry run, of an address no host has): the environment is ignored, said so */
	static const char *const cmds[][6] = { { "attach", "-n", "7f:1f.7" }, { "detach", "-n", "7f:1f.7" },
					       { "vf", "create", "-n", "7f:1f.7", "1" } };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		run_iopass_env(&r, NULL, (const char *const[]){ env, NULL }, cmds[i]);
		assert_non_null(strstr(r.err, "is ignored: as root, a command that writes takes its root only from --sysroot\n"));
		assert_false(fx_exists(fx, "run/iopass"));
		run_free(&r);
	}
	free(env);
	fx_free(fx);
}

static void test_bad_input_writes_nothing(void **state)
{
	struct sim s;
	struct run r;
	char *log;

	(void)state;
	sim_open(&s, fx_workstation());
	SIM(&s, &r, "attach", "00:14.0", "../../etc");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: attach: '../../etc' is not a PCI address; use DDDD:BB:SS.F or BB:SS.F for a function, DDDD:BB:SS or BB:SS for every function of a card, e.g. 0000:01:00.0 or 01:00\n");
	run_free(&r);
	SIM(&s, &r, "attach");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: attach: no device given; name devices by address, or use --group N or --id VVVV:DDDD\n");
	run_free(&r);
	SIM(&s, &r, "attach", "--id", "15b3:1018");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: attach: --id 15b3:1018 matches 2 devices (0000:03:00.2, 0000:03:00.3); name the ones you mean by address\n");
	run_free(&r);
	SIM(&s, &r, "attach", "--driver", "../vfio", "00:14.0");
	assert_int_equal(r.status, 2);
	run_free(&r);
	SIM(&s, &r, "detach", "--all", "00:14.0");
	assert_int_equal(r.status, 2);
	run_free(&r);
	SIM(&s, &r, "attach", "--wait", "x", "00:14.0");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: attach: --wait 'x': not a number of seconds from 0 to 3600\n");
	run_free(&r);
	log = sim_log(&s);
	assert_string_equal(log, "");
	free(log);
	/* judged under the lock (run/iopass/lock), with no journal and no record */
	assert_false(fx_exists(s.fx, "run/iopass/journal"));
	assert_false(fx_exists(s.fx, "run/iopass/state"));

	/* --id with one match works */
	SIM(&s, &r, "attach", "--id", "8086:a2af");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_driver(&s, "0000:00:14.0", "vfio-pci");
	sim_close(&s);
}

/* Every injected failure ends with each device on its original driver and no journal. */
static void test_faults(void **state)
{
	static const struct {
		const char *fail, *error;
	} cases[] = {
		{ "override:0000:01:00.0:EACCES",
		  "iopass: attach: 0000:01:00.0: writing vfio-pci to driver_override failed: Permission denied; "
		  "every device is back on its driver, the host is as it was\n" },
		{ "unbind:0000:01:00.1:EBUSY",
		  "iopass: attach: 0000:01:00.1: unbinding from snd_hda_intel failed: Device or resource busy; "
		  "every device is back on its driver, the host is as it was\n" },
		{ "probe:0000:01:00.1:none",
		  "iopass: attach: 0000:01:00.1: after the probe the device is unbound, not on vfio-pci; "
		  "every device is back on its driver, the host is as it was\n" },
		{ "probe:0000:01:00.1:wrong=snd_hda_intel",
		  "iopass: attach: 0000:01:00.1: after the probe the device is bound to snd_hda_intel, not on vfio-pci; "
		  "every device is back on its driver, the host is as it was\n" },
		{ "probe:0000:01:00.0:EIO",
		  "iopass: attach: 0000:01:00.0: probing vfio-pci failed: Input/output error; "
		  "every device is back on its driver, the host is as it was\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sim s;
		struct run r;

		sim_open(&s, fx_secondary_gpu());
		snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=%s", cases[i].fail);
		SIM(&s, &r, "attach", "--group", "1");
		if (r.status != 1)
			fprintf(stderr, "case %s: %s", cases[i].fail, r.err);
		assert_int_equal(r.status, 1);
		assert_text_equal(r.err, cases[i].error);
		run_free(&r);
		assert_driver(&s, "0000:01:00.0", "nvidia");
		assert_driver(&s, "0000:01:00.1", "snd_hda_intel");
		assert_file(&s, "sys/bus/pci/devices/0000:01:00.0/driver_override", "(null)");
		assert_file(&s, "sys/bus/pci/devices/0000:01:00.1/driver_override", "(null)");
		assert_file(&s, "run/iopass/journal", NULL);
		assert_file(&s, "run/iopass/state", NULL);
		assert_false(fx_exists(s.fx, "dev/vfio/1"));
		sim_close(&s);
	}
}

static void test_vanish(void **state)
{
	struct sim s;
	struct run r;

	(void)state;
	sim_open(&s, fx_secondary_gpu());
	snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=probe:0000:01:00.1:vanish");
	SIM(&s, &r, "attach", "--group", "1", "-J");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.out, "\"bdf\": \"0000:01:00.1\",\n      \"from\": \"snd_hda_intel\",\n"
				      "      \"to\": \"vfio-pci\",\n      \"status\": \"gone\""));
	assert_non_null(strstr(r.out, "\"status\": \"rolled-back\""));
	run_free(&r);
	assert_driver(&s, "0000:01:00.0", "nvidia");
	assert_file(&s, "run/iopass/journal", NULL);
	sim_close(&s);
}

static void test_detach_record(void **state)
{
	struct sim s;
	struct run r;

	(void)state;
	/* no record (bound to vfio-pci before iopass): the kernel's probe decides */
	sim_open(&s, fx_workstation());
	SIM(&s, &r, "detach", "03:00.2");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:03:00.2: vfio-pci -> mlx5_core\n");
	run_free(&r);
	assert_driver(&s, "0000:03:00.2", "mlx5_core");

	/* the probe picks another driver: the recorded one is bound explicitly */
	fx_add_driver(s.fx, "xhci_generic");
	SIM(&s, &r, "attach", "00:14.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=probe:0000:00:14.0:wrong=xhci_generic");
	SIM(&s, &r, "detach", "00:14.0");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:00:14.0: vfio-pci -> xhci_hcd\n");
	run_free(&r);
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");

	/* a device unbound before attach stays unbound after detach */
	s.env_fail[0] = '\0';
	SIM(&s, &r, "attach", "03:00.3");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:03:00.3: no driver -> vfio-pci\n");
	run_free(&r);
	SIM(&s, &r, "detach", "03:00.3");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:03:00.3: vfio-pci -> no driver\n");
	run_free(&r);
	assert_driver(&s, "0000:03:00.3", "");

	/* detach failing to bind the original back: rolled back onto vfio-pci, record kept */
	SIM(&s, &r, "attach", "00:14.0");
	run_free(&r);
	snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=probe:0000:00:14.0:none,bind=xhci_hcd:0000:00:14.0:EIO");
	SIM(&s, &r, "detach", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "0000:00:14.0: could not bind it back to xhci_hcd"));
	run_free(&r);
	s.env_fail[0] = '\0';
	assert_driver(&s, "0000:00:14.0", "vfio-pci");
	assert_file(&s, "run/iopass/state", "iopass-state 1\n0000:00:14.0 xhci_hcd -");
	assert_file(&s, "run/iopass/journal", NULL);
	sim_close(&s);
}

static void test_detach_group_open(void **state)
{
	struct sim s;
	struct run r;

	(void)state;
	sim_open(&s, fx_workstation());
	fx_printf(s.fx, "proc/4242/comm", "qemu-system-x86\n");
	fx_symlink(s.fx, "proc/4242/fd/17", "/dev/vfio/6");
	SIM(&s, &r, "detach", "03:00.2");
	assert_int_equal(r.status, 3);
	assert_text_equal(r.err,
		"iopass: detach: 0000:03:00.2: group 6 is open by qemu-system-x86 (pid 4242, /dev/vfio/6): a VM "
		"is using it; pass --force to override\n"
		"  fix: shut the VM down first\n"
		"iopass: detach: refused: nothing was changed\n");
	run_free(&r);
	assert_driver(&s, "0000:03:00.2", "vfio-pci");
	/* the same VM on the iommufd backend: it holds the device's cdev */
	fx_unlink(s.fx, "proc/4242/fd/17");
	fx_symlink(s.fx, "proc/4242/fd/30", "/dev/vfio/devices/vfio0");
	fx_mkdir(s.fx, "sys/class/vfio-dev/vfio0/device");
	fx_symlink(s.fx, "sys/class/vfio-dev/vfio0/device/iommu_group", "../../../../kernel/iommu_groups/6");
	SIM(&s, &r, "detach", "03:00.2");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "0000:03:00.2: group 6 is open by qemu-system-x86 (pid 4242, "
				      "/dev/vfio/devices/vfio0): a VM is using it"));
	run_free(&r);
	assert_driver(&s, "0000:03:00.2", "vfio-pci");
	SIM(&s, &r, "detach", "03:00.2", "--force");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_driver(&s, "0000:03:00.2", "mlx5_core");
	sim_close(&s);
}

/* SIGKILL after each kernel write of a two-device attach; the next run restores both. */
static void test_sigkill_recovery(void **state)
{
	(void)state;
	for (int k = 1; k <= 6; k++) {
		struct sim s;
		struct run r;

		sim_open(&s, fx_secondary_gpu());
		snprintf(s.env_kill, sizeof(s.env_kill), "IOPASS_SIM_KILL_AFTER=%d", k);
		SIM(&s, &r, "attach", "--group", "1");
		assert_int_equal(r.status, 128 + SIGKILL);
		run_free(&r);
		assert_true(fx_exists(s.fx, "run/iopass/journal"));
		s.env_kill[0] = '\0';

		SIM(&s, &r, "detach", "--all");
		assert_int_equal(r.status, 0);
		assert_non_null(strstr(r.err, "iopass: detach: recovery: 0000:01:00.0: the interrupted attach was rolled back (on nvidia again)\n"));
		assert_non_null(strstr(r.err, "iopass: detach: recovery: 0000:01:00.1: the interrupted attach was rolled back (on snd_hda_intel again)\n"));
		run_free(&r);
		assert_driver(&s, "0000:01:00.0", "nvidia");
		assert_driver(&s, "0000:01:00.1", "snd_hda_intel");
		assert_file(&s, "sys/bus/pci/devices/0000:01:00.0/driver_override", "(null)");
		assert_file(&s, "sys/bus/pci/devices/0000:01:00.1/driver_override", "(null)");
		assert_file(&s, "run/iopass/journal", NULL);
		assert_file(&s, "run/iopass/state", NULL);

		/* and the attach then works */
		SIM(&s, &r, "attach", "--group", "1");
		assert_int_equal(r.status, 0);
		run_free(&r);
		assert_driver(&s, "0000:01:00.1", "vfio-pci");
		sim_close(&s);
	}
}

/* Until another process holds the writing runs' lock below the fixture (30 s at most). */
static void wait_lock_held(struct sim *s)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/run/iopass/lock", fx_root(s->fx));
	for (int i = 0; i < 3000; i++) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			bool held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;

			close(fd); /* releases it when this took it */
			if (held)
				return;
		}
		usleep(10 * 1000);
	}
	fail_msg("no iopass took the lock %s within 30 s", path);
}

/* Two runs on overlapping devices: the second waits for the lock, then finds them attached. */
static void test_concurrent(void **state)
{
	struct sim s;
	struct run r;
	pid_t pid;
	int st;

	(void)state;
	sim_open(&s, fx_secondary_gpu());
	snprintf(s.env_delay, sizeof(s.env_delay), "IOPASS_SIM_DELAY_MS=150");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct run r1;

		SIM(&s, &r1, "attach", "--group", "1");
		if (r1.status)
			fprintf(stderr, "first run: %s", r1.err);
		_exit(r1.status);
	}
	usleep(200 * 1000); /* the first run holds the lock now (6 writes x 150 ms) */
	s.env_delay[0] = '\0';
	SIM(&s, &r, "attach", "01:00.1", "01:00.0");
	if (r.status) fprintf(stderr, "second run: %s", r.err);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "another iopass is changing drivers; waiting up to 30 s"));
	assert_text_equal(r.out, "0000:01:00.1: unchanged (vfio-pci)\n0000:01:00.0: unchanged (vfio-pci)\n");
	run_free(&r);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_file(&s, "run/iopass/state",
		    "iopass-state 1\n0000:01:00.0 nvidia -\n0000:01:00.1 snd_hda_intel -");

	/* --wait 0 gives up at once */
	snprintf(s.env_delay, sizeof(s.env_delay), "IOPASS_SIM_DELAY_MS=600");
	pid = fork();
	if (pid == 0) {
		struct run r1;

		SIM(&s, &r1, "detach", "--all");
		_exit(r1.status);
	}
	/* until the first run holds the lock: a fixed sleep loses the race under valgrind */
	wait_lock_held(&s);
	s.env_delay[0] = '\0';
	SIM(&s, &r, "attach", "--wait", "0", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "iopass: attach: another iopass kept the lock for 0 s; try again when it is done\n"));
	run_free(&r);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	sim_close(&s);
}

/* State files are never trusted blindly: corrupt, symlinked, or writable by others. */
/*
 * A sysroot whose sys/bus, sys/devices, sys/kernel and dev are absolute links into
 * another tree (here another fixture, standing for the host's /), with an empty
 * proc: every link resolves inside the sysroot (RESOLVE_IN_ROOT), so the other
 * tree's NVMe is neither read nor written; the run fails finding no device.
 */
static void test_sysroot_links_out(void **state)
{
	static const char *const links[] = { "sys/bus", "sys/devices", "sys/kernel", "dev" };
	struct fx *host = fx_workstation(), *fake;
	char dir[] = "/tmp/iopass-fake-XXXXXX";
	struct run r;
	char *ovr;

	(void)state;
	{
		/* under valgrind (which lacks openat2) iopass resolves as openat does */
		struct open_how how = { .flags = O_PATH, .resolve = RESOLVE_IN_ROOT };
		long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));

		if (fd < 0 && errno == ENOSYS) {
			fx_free(host);
			skip();
			return;
		}
		if (fd >= 0)
			close((int)fd);
	}
	assert_non_null(mkdtemp(dir));
	fake = fx_open(dir);
	fx_mkdir(fake, "sys");
	fx_mkdir(fake, "proc");
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		char target[4300];

		snprintf(target, sizeof(target), "%s/%s", fx_root(host), links[i]);
		fx_symlink(fake, links[i], target);
	}
	RUN(&r, fx_root(fake), "attach", "02:00.0");
	assert_int_not_equal(r.status, 0);
	assert_null(strstr(r.out, "vfio-pci"));
	run_free(&r);
	RUN(&r, fx_root(fake), "list", "-n", "-o", "BDF");
	assert_text_equal(r.out, "");
	run_free(&r);
	ovr = fx_read(host, "sys/bus/pci/devices/0000:02:00.0/driver_override");
	assert_string_equal(ovr, "(null)");
	free(ovr);
	fx_free(fake);
	fx_free(host);
}

/*
 * openat2 with RESOLVE_IN_ROOT fails with EAGAIN when a rename anywhere on the
 * system races with a ".." of the lookup (every sysroot link has them): the
 * lookup is repeated, so a busy machine reads and writes as an idle one does.
 */
static void test_sysroot_lookup_eagain(void **state)
{
	struct sim s;
	struct run plain, r;

	(void)state;
	sim_open(&s, fx_workstation());
	SIM(&s, &plain, "list", "-D", "-n", "-o", "BDF,DRIVER,GROUP");
	assert_int_equal(plain.status, 0);
	snprintf(s.env_extra, sizeof(s.env_extra), "IOPASS_SIM_OPENAT2_EAGAIN=5");
	SIM(&s, &r, "list", "-D", "-n", "-o", "BDF,DRIVER,GROUP");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, plain.out);
	assert_text_equal(r.err, "");
	run_free(&r);
	SIM(&s, &r, "attach", "00:14.0");
	assert_int_equal(r.status, 0);
	assert_driver(&s, "0000:00:14.0", "vfio-pci");
	run_free(&r);
	SIM(&s, &r, "detach", "00:14.0");
	assert_int_equal(r.status, 0);
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	run_free(&r);
	run_free(&plain);
	sim_close(&s);
}

/*
 * A control file replaced by a symlink to a file outside sysfs: the write must not
 * go through it (O_NOFOLLOW), and the attach is undone.
 */
static void test_planted_control_links(void **state)
{
	static const char *const files[] = { "sys/bus/pci/devices/0000:00:14.0/driver_override",
					      "sys/bus/pci/drivers/xhci_hcd/unbind",
					      "sys/bus/pci/drivers_probe" };
	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct sim s;
		struct run r;
		char *victim, *text;

		sim_open(&s, fx_workstation());
		fx_printf(s.fx, "victim", "%s", "precious\n");
		assert_true(asprintf(&victim, "%s/victim", fx_root(s.fx)) > 0);
		fx_unlink(s.fx, files[i]);
		fx_symlink(s.fx, files[i], victim);
		SIM(&s, &r, "attach", "00:14.0");
		if (r.status != 1)
			fprintf(stderr, "%s: status %d: %s", files[i], r.status, r.err);
		assert_int_equal(r.status, 1);
		run_free(&r);
		text = fx_read(s.fx, "victim");
		assert_string_equal(text, "precious");
		free(text);
		assert_driver(&s, "0000:00:14.0", "xhci_hcd");
		free(victim);
		sim_close(&s);
	}
}

static void test_hostile_state(void **state)
{
	struct sim s;
	struct run r;
	char *p, *log;

	(void)state;
	sim_open(&s, fx_workstation());
	fx_mkdir(s.fx, "run/iopass");
	assert_true(asprintf(&p, "%s/run/iopass", fx_root(s.fx)) > 0);
	chmod(p, 0700);
	free(p);

	assert_true(asprintf(&p, "%s/run/iopass/state", fx_root(s.fx)) > 0);
	/* corrupt: a path for a driver, a device twice, reset= where it may not be or malformed */
	static const char *const corrupt[] = {
		"iopass-state 1\n0000:00:14.0 ../../etc -\n",
		"iopass-state 1\n0000:00:14.0 xhci_hcd -\n0000:00:14.0 xhci_hcd -\n",
		"iopass-state 1\n0000:00:14.0 xhci_hcd - reset=flr\n",
		"iopass-state 2\n0000:00:14.0 xhci_hcd - reset=flr,\n",
		"iopass-state 2\n0000:00:14.0 xhci_hcd - reset=,flr\n",
		"iopass-state 2\n0000:00:14.0 xhci_hcd - reset=flr,,bus\n",
		"iopass-state 2\n0000:00:14.0 xhci_hcd - reset=FLR\n",
		"iopass-state 2\n0000:00:14.0 xhci_hcd - reset=../x\n",
		"iopass-state 2\n0000:00:14.0 xhci_hcd - flr\n",
		"iopass-state 2\n0000:00:14.0 xhci_hcd - reset=flr extra\n",
		"iopass-state 3\n0000:00:14.0 xhci_hcd -\n",
	};
	for (size_t i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
		fx_printf(s.fx, "run/iopass/state", "%s", corrupt[i]);
		chmod(p, 0600);
		SIM(&s, &r, "attach", "00:14.0");
		if (r.status != 1)
			fprintf(stderr, "record taken: %s", corrupt[i]);
		assert_int_equal(r.status, 1);
		assert_non_null(strstr(r.err, "/run/iopass/state is corrupt; inspect and remove it by hand\n"));
		run_free(&r);
	}
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");

	/* a symlink planted in place of the record */
	unlink(p);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	SIM(&s, &r, "attach", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "/run/iopass/state is not iopass's own (a symlink, another owner, or open to others)"));
	run_free(&r);

	/* group-readable: not ours */
	unlink(p);
	fx_printf(s.fx, "run/iopass/state", "iopass-state 1\n");
	chmod(p, 0644);
	SIM(&s, &r, "attach", "00:14.0");
	assert_int_equal(r.status, 1);
	run_free(&r);
	unlink(p);
	free(p);

	/* the directory itself a symlink */
	assert_true(asprintf(&p, "%s/run/iopass", fx_root(s.fx)) > 0);
	fx_unlink(s.fx, "run/iopass/lock");
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(symlink("/tmp", p), 0);
	SIM(&s, &r, "attach", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "cannot use the state directory"));
	run_free(&r);
	free(p);

	log = sim_log(&s);
	assert_string_equal(log, "");
	free(log);
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	sim_close(&s);
}

static void test_corrupt_journal(void **state)
{
	struct sim s;
	struct run r;
	char *p;

	(void)state;
	sim_open(&s, fx_workstation());
	fx_printf(s.fx, "run/iopass/journal", "iopass-journal 1\nop attach vfio-pci\n0000:00:14.0 xhci_hcd\n");
	assert_true(asprintf(&p, "%s/run/iopass", fx_root(s.fx)) > 0);
	chmod(p, 0700);
	free(p);
	assert_true(asprintf(&p, "%s/run/iopass/journal", fx_root(s.fx)) > 0);
	chmod(p, 0600);
	free(p);
	SIM(&s, &r, "attach", "00:14.0");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "/run/iopass/journal is corrupt; inspect and remove it by hand\n"));
	run_free(&r);
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	sim_close(&s);
}

/* On the live system, without root: a clear error before any write. */
static void test_needs_root(void **state)
{
	char err[4096] = "";
	ssize_t n, len = 0;
	int pipefd[2], st;
	pid_t pid;

	(void)state;
	/* the long runs: under ASan in CI; valgrind (scripts/valgrind.sh) runs the rest */
	if (getenv("IOPASS_TEST_QUICK")) {
		skip();
		return;
	}
	if (geteuid() != 0) {
		skip();
		return;
	}
	/* a copy nobody can reach: the build tree may sit below a private directory */
	char dir[] = "/dev/shm/iopass-nobody-XXXXXX", bin[64];
	int in, out;
	ssize_t k;
	char buf[65536];

	if (!mkdtemp(dir)) {
		skip();
		return;
	}
	chmod(dir, 0755);
	snprintf(bin, sizeof(bin), "%s/iopass", dir);
	in = open(IOPASS_BIN, O_RDONLY | O_CLOEXEC);
	out = open(bin, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	assert_true(in >= 0 && out >= 0);
	while ((k = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)k), k);
	close(in);
	close(out);
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 2);
		dup2(pipefd[1], 1);
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(99);
		execl(bin, bin, "attach", "--force", "00:00.0", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], err + len, sizeof(err) - 1 - (size_t)len)) > 0)
		len += n;
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 127) {
		unlink(bin);
		rmdir(dir);
		fprintf(stderr, "SKIPPED: nobody cannot run a copy of iopass in /dev/shm\n");
		skip();
		return;
	}
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_text_equal(err, "iopass: attach: changing drivers needs root; run it with sudo (or try --dry-run)\n");

	/* reading works without root, as far as sysfs lets it: every device is listed */
	char listing[65536] = "";
	size_t want = 0;
	DIR *dd = opendir("/sys/bus/pci/devices");
	struct dirent *de;

	while (dd && (de = readdir(dd)))
		want += de->d_name[0] != '.';
	if (dd)
		closedir(dd);
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(99);
		dup2(pipefd[1], 2);
		execl(bin, bin, "list", "-q", "-D", "-n", "-r", "-o", "BDF", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	len = 0;
	while ((n = read(pipefd[0], listing + len, sizeof(listing) - 1 - (size_t)len)) > 0)
		len += n;
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	unlink(bin);
	rmdir(dir);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	if (count_lines(listing) != want)
		fprintf(stderr, "as nobody: %s", listing);
	assert_int_equal(count_lines(listing), want);
}

/* ---- SR-IOV ------------------------------------------------------------- */

static void test_vf_create_attach(void **state)
{
	struct sim s;
	struct run r;
	char *log;

	(void)state;
	sim_open(&s, fx_workstation());
	SIM(&s, &r, "vf", "remove", "03:00.0");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:03:00.2: removed\n0000:03:00.3: removed\n");
	run_free(&r);
	assert_false(fx_exists(s.fx, "sys/bus/pci/devices/0000:03:00.2"));
	assert_file(&s, "sys/bus/pci/devices/0000:03:00.0/sriov_numvfs", "0");
	/* removing again: nothing to do */
	SIM(&s, &r, "vf", "remove", "03:00.0");
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "");
	run_free(&r);

	/* dry run: the plan, no write */
	sim_log_reset(&s);
	SIM(&s, &r, "vf", "create", "--dry-run", "--attach", "03:00.0", "2");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "sriov_drivers_autoprobe\n  echo 2 > "));
	run_free(&r);
	log = sim_log(&s);
	assert_string_equal(log, "");
	free(log);

	SIM(&s, &r, "vf", "create", "--attach", "03:00.0", "2");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:03:00.2: no driver -> vfio-pci\n0000:03:00.3: no driver -> vfio-pci\n");
	run_free(&r);
	/* autoprobe off before the VFs appear, back on after: no host driver ever had them */
	log = sim_log(&s);
	assert_text_equal(log, "autoprobe 0000:03:00.0 0 ok\n"
			       "numvfs 0000:03:00.0 2 ok\n"
			       "autoprobe 0000:03:00.0 1 ok\n"
			       "override 0000:03:00.2 vfio-pci ok\n"
			       "probe 0000:03:00.2 \\n ok\n"
			       "override 0000:03:00.3 vfio-pci ok\n"
			       "probe 0000:03:00.3 \\n ok");
	free(log);
	assert_driver(&s, "0000:03:00.2", "vfio-pci");
	assert_driver(&s, "0000:03:00.3", "vfio-pci");
	assert_file(&s, "sys/bus/pci/devices/0000:03:00.0/sriov_drivers_autoprobe", "1");
	assert_file(&s, "run/iopass/state", "iopass-state 1\n0000:03:00.2 - -\n0000:03:00.3 - -");

	/* the same count again: nothing changes */
	sim_log_reset(&s);
	SIM(&s, &r, "vf", "create", "--attach", "03:00.0", "2");
	assert_int_equal(r.status, 0);
	run_free(&r);
	log = sim_log(&s);
	assert_string_equal(log, "");
	free(log);

	/* a VM holds a VF: remove refuses, --force removes, records go with the VFs */
	fx_printf(s.fx, "proc/4242/comm", "qemu-system-x86\n");
	/* the VFs got fresh groups after the highest one (5): 6 and 7 */
	fx_symlink(s.fx, "proc/4242/fd/17", "/dev/vfio/7");
	assert_true(fx_exists(s.fx, "dev/vfio/7"));
	SIM(&s, &r, "vf", "remove", "03:00.0");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "VF 0000:03:00.3: group 7 is open by qemu-system-x86 (pid 4242, /dev/vfio/7)"));
	run_free(&r);
	assert_true(fx_exists(s.fx, "sys/bus/pci/devices/0000:03:00.3"));
	SIM(&s, &r, "vf", "remove", "--force", "03:00.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_file(&s, "run/iopass/state", NULL);
	sim_close(&s);
}

/* The PF writes a text names, one "attr value" line each: --dry-run's "echo V > .../attr" lines or the sim log. */
static char *pf_writes(const char *text, bool from_log)
{
	char *out = calloc(1, strlen(text) + 1), *copy = strdup(text), *save = NULL;

	assert_non_null(out);
	assert_non_null(copy);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char attr[64], bdf[32], val[16];

		if (from_log && sscanf(l, "%63s %31s %15s", attr, bdf, val) == 3 &&
		    (!strcmp(attr, "autoprobe") || !strcmp(attr, "numvfs")))
			sprintf(out + strlen(out), "%s %s\n",
				!strcmp(attr, "autoprobe") ? "sriov_drivers_autoprobe" : "sriov_numvfs", val);
		else if (!from_log && sscanf(l, " echo %15s >", val) == 1 && strstr(l, "/sriov_"))
			sprintf(out + strlen(out), "%s %s\n", strrchr(l, '/') + 1, val);
	}
	free(copy);
	return out;
}

/*
 * vf create --dry-run prints the PF writes the real run makes, whatever
 * sriov_drivers_autoprobe is: with it off already, neither turns it off or on.
 */
static void test_vf_plan_is_the_run(void **state)
{
	static const char *const autoprobe[] = { "1", "0" };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct sim s;
		struct run r;
		char *plan, *done, *log;

		sim_open(&s, fx_workstation());
		SIM(&s, &r, "vf", "remove", "03:00.0");
		assert_int_equal(r.status, 0);
		run_free(&r);
		fx_printf(s.fx, "sys/bus/pci/devices/0000:03:00.0/sriov_drivers_autoprobe", "%s\n",
			  autoprobe[i]);
		sim_log_reset(&s);
		SIM(&s, &r, "vf", "create", "-n", "--attach", "03:00.0", "2");
		assert_int_equal(r.status, 0);
		plan = pf_writes(r.out, false);
		run_free(&r);
		SIM(&s, &r, "vf", "create", "--attach", "03:00.0", "2");
		assert_int_equal(r.status, 0);
		run_free(&r);
		log = sim_log(&s);
		done = pf_writes(log, true);
		assert_text_equal(plan, done);
		assert_text_equal(done, i == 0 ? "sriov_drivers_autoprobe 0\nsriov_numvfs 2\n"
						 "sriov_drivers_autoprobe 1\n"
					       : "sriov_numvfs 2\n");
		assert_file(&s, "sys/bus/pci/devices/0000:03:00.0/sriov_drivers_autoprobe", autoprobe[i]);
		free(plan);
		free(done);
		free(log);
		sim_close(&s);
	}
}

static void test_vf_errors(void **state)
{
	struct sim s;
	struct run r;

	(void)state;
	sim_open(&s, fx_workstation());
	SIM(&s, &r, "vf", "create", "03:00.0", "9");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: vf: 0000:03:00.0 supports 1 to 8 VFs; 9 is out of range\n");
	run_free(&r);
	SIM(&s, &r, "vf", "create", "01:00.0", "1");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: vf: 0000:01:00.0 is not an SR-IOV physical function (no sriov_totalvfs)\n");
	run_free(&r);
	SIM(&s, &r, "vf", "create", "03:00.0", "4");
	assert_int_equal(r.status, 1);
	assert_text_equal(r.err, "iopass: vf: 0000:03:00.0 has 2 VFs already; remove them first: iopass vf remove 0000:03:00.0\n");
	run_free(&r);
	SIM(&s, &r, "vf", "create", "03:00.0", "x");
	assert_int_equal(r.status, 2);
	run_free(&r);
	SIM(&s, &r, "vf", "frob", "03:00.0");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: vf: unknown action 'frob'; use create or remove\n");
	run_free(&r);

	/* attach of a new VF fails: the VFs are removed again, autoprobe is back */
	SIM(&s, &r, "vf", "remove", "03:00.0");
	run_free(&r);
	snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=probe:0000:03:00.3:none");
	SIM(&s, &r, "vf", "create", "--attach", "03:00.0", "2");
	assert_int_equal(r.status, 1);
	assert_text_equal(r.err, "iopass: vf: 0000:03:00.3: after the probe the device is unbound, not on "
				 "vfio-pci; every device is back on its driver; the VFs were removed again, "
				 "the host is as it was\n");
	run_free(&r);
	assert_false(fx_exists(s.fx, "sys/bus/pci/devices/0000:03:00.2"));
	assert_file(&s, "sys/bus/pci/devices/0000:03:00.0/sriov_numvfs", "0");
	assert_file(&s, "sys/bus/pci/devices/0000:03:00.0/sriov_drivers_autoprobe", "1");
	assert_file(&s, "run/iopass/state", NULL);

	/* without --attach the VFs get the PF's VF driver */
	s.env_fail[0] = '\0';
	SIM(&s, &r, "vf", "create", "03:00.0", "1");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:03:00.2: created (mlx5_core)\n");
	run_free(&r);
	/* again: nothing is created; a dry run with --attach plans the attach of the VF */
	SIM(&s, &r, "vf", "create", "03:00.0", "1");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:03:00.2: unchanged (mlx5_core)\n");
	run_free(&r);
	SIM(&s, &r, "vf", "create", "-n", "--attach", "03:00.0", "1");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "would write, in order:\n"));
	assert_non_null(strstr(r.out, "echo 0000:03:00.2 > "));
	assert_non_null(strstr(r.out, "/sys/bus/pci/drivers/mlx5_core/unbind\n"));
	run_free(&r);
	sim_close(&s);
}

/*
 * The fault matrix: every kernel write of a two-device attach and detach
 * (driver_override, unbind, drivers_probe, bind, per device) failed in turn
 * with EBUSY, EIO, ENODEV, EACCES and EINTR. Each run ends with every device
 * on the driver it had before, overrides as before, and no journal.
 */
static void test_fault_matrix(void **state)
{
	static const char *const ops[] = { "override", "unbind", "probe", "bind" };
	static const char *const errs[] = { "EBUSY", "EIO", "ENODEV", "EACCES", "EINTR" };
	static const char *const devs[] = { "0000:01:00.0", "0000:01:00.1" };
	int runs = 0, failed_attach = 0, failed_detach = 0;

	(void)state;
	/* the long runs: under ASan in CI; valgrind (scripts/valgrind.sh) runs the rest */
	if (getenv("IOPASS_TEST_QUICK")) {
		skip();
		return;
	}
	for (size_t o = 0; o < 4; o++)
		for (size_t e = 0; e < 5; e++)
			for (size_t d = 0; d < 2; d++) {
				struct sim s;
				struct run r;
				char drv[64];

				sim_open(&s, fx_secondary_gpu());
				snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=%s:%s:%s", ops[o],
					 devs[d], errs[e]);
				/* attach under the fault */
				SIM(&s, &r, "attach", "--group", "1");
				assert_true(r.status == 0 || r.status == 1);
				failed_attach += r.status == 1;
				if (r.status == 1)
					assert_non_null(strstr(r.err, "the host is as it was"));
				run_free(&r);
				if (r.status == 0) {
					s.env_fail[0] = '\0';
					SIM(&s, &r, "detach", "--group", "1");
					assert_int_equal(r.status, 0);
					run_free(&r);
				}
				/* detach under the fault, after a clean attach */
				s.env_fail[0] = '\0';
				SIM(&s, &r, "attach", "--group", "1");
				assert_int_equal(r.status, 0);
				run_free(&r);
				snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=%s:%s:%s", ops[o],
					 devs[d], errs[e]);
				SIM(&s, &r, "detach", "--group", "1");
				assert_true(r.status == 0 || r.status == 1);
				failed_detach += r.status == 1;
				run_free(&r);
				if (strcmp(fx_driver(s.fx, "0000:01:00.0", drv, sizeof(drv)), "vfio-pci") == 0 ||
				    strcmp(fx_driver(s.fx, "0000:01:00.1", drv, sizeof(drv)), "vfio-pci") == 0) {
					/* rolled back onto vfio-pci: both still recorded, then a clean detach */
					char *st = fx_read(s.fx, "run/iopass/state");

					assert_non_null(st);
					assert_non_null(strstr(st, "0000:01:00.0 nvidia"));
					assert_non_null(strstr(st, "0000:01:00.1 snd_hda_intel"));
					free(st);
					assert_driver(&s, "0000:01:00.0", "vfio-pci");
					assert_driver(&s, "0000:01:00.1", "vfio-pci");
					s.env_fail[0] = '\0';
					SIM(&s, &r, "detach", "--group", "1");
					assert_int_equal(r.status, 0);
					run_free(&r);
				}
				assert_driver(&s, "0000:01:00.0", "nvidia");
				assert_driver(&s, "0000:01:00.1", "snd_hda_intel");
				assert_file(&s, "sys/bus/pci/devices/0000:01:00.0/driver_override", "(null)");
				assert_file(&s, "sys/bus/pci/devices/0000:01:00.1/driver_override", "(null)");
				assert_file(&s, "run/iopass/journal", NULL);
				runs++;
				sim_close(&s);
			}
	fprintf(stderr, "fault matrix: %d runs, %d attaches and %d detaches failed and rolled back\n",
		runs, failed_attach, failed_detach);
	assert_int_equal(runs, 40);
	assert_true(failed_attach >= 20);
}

/*
 * The same for vf: create --attach and remove, each kernel write failed in turn
 * (autoprobe, sriov_numvfs, and the attach of a new VF). create --attach ends
 * with no VFs and autoprobe back on; remove ends with the VFs as they were.
 */
static void test_vf_fault_matrix(void **state)
{
	static const char *const faults[] = { "autoprobe:0000:03:00.0", "numvfs:0000:03:00.0",
					      "override:0000:03:00.3", "probe:0000:03:00.2" };
	static const char *const errs[] = { "EBUSY", "EIO", "ENODEV", "EACCES", "EINTR" };
	int runs = 0;

	(void)state;
	if (getenv("IOPASS_TEST_QUICK")) {
		skip();
		return;
	}
	for (size_t f = 0; f < 4; f++)
		for (size_t e = 0; e < 5; e++) {
			struct sim s;
			struct run r;

			sim_open(&s, fx_workstation());
			SIM(&s, &r, "vf", "remove", "03:00.0");
			assert_int_equal(r.status, 0);
			run_free(&r);
			snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=%s:%s", faults[f], errs[e]);
			SIM(&s, &r, "vf", "create", "--attach", "03:00.0", "2");
			if (r.status != 1)
				fprintf(stderr, "%s: status %d: %s%s", s.env_fail, r.status, r.out, r.err);
			assert_int_equal(r.status, 1);
			run_free(&r);
			s.env_fail[0] = '\0';
			assert_file(&s, "sys/bus/pci/devices/0000:03:00.0/sriov_numvfs", "0");
			assert_file(&s, "sys/bus/pci/devices/0000:03:00.0/sriov_drivers_autoprobe", "1");
			assert_false(fx_exists(s.fx, "sys/bus/pci/devices/0000:03:00.2"));
			assert_file(&s, "run/iopass/journal", NULL);
			assert_file(&s, "run/iopass/state", NULL);

			/* remove under the fault: either removed, or the VFs stay as they were */
			SIM(&s, &r, "vf", "create", "--attach", "03:00.0", "2");
			assert_int_equal(r.status, 0);
			run_free(&r);
			if (f == 1) {
				snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=%s:%s", faults[f], errs[e]);
				SIM(&s, &r, "vf", "remove", "03:00.0");
				assert_int_equal(r.status, 1);
				run_free(&r);
				s.env_fail[0] = '\0';
				assert_driver(&s, "0000:03:00.2", "vfio-pci");
				char *st = fx_read(s.fx, "run/iopass/state");

				assert_non_null(st);
				assert_non_null(strstr(st, "0000:03:00.2"));
				free(st);
			}
			runs++;
			sim_close(&s);
		}
	fprintf(stderr, "vf fault matrix: %d runs, every failed create left no VF behind\n", runs);
}

/* Eight processes attaching and detaching overlapping devices: no deadlock, no lost record. */
static void test_concurrency_storm(void **state)
{
	static const char *const sets[][3] = {
		{ "--group", "1", NULL }, { "01:00.0", "01:00.1", NULL }, { "00:14.0", NULL, NULL },
		{ "03:00.3", "00:14.0", NULL },
	};
	struct sim s;
	pid_t pids[8];
	int st;

	(void)state;
	/* the long runs: under ASan in CI; valgrind (scripts/valgrind.sh) runs the rest */
	if (getenv("IOPASS_TEST_QUICK")) {
		skip();
		return;
	}
	sim_open(&s, fx_secondary_gpu());
	for (int p = 0; p < 8; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			srand((unsigned)p * 7919u);
			for (int i = 0; i < 12; i++) {
				const char *argv[7] = { rand() % 2 ? "attach" : "detach" };
				const char *const *set = sets[rand() % 4];
				struct run r;
				size_t n = 1;

				for (size_t k = 0; k < 3 && set[k]; k++)
					argv[n++] = set[k];
				argv[n] = NULL;
				sim_run(&s, &r, argv);
				if (r.status != 0) {
					fprintf(stderr, "storm: %s: %d %s", argv[0], r.status, r.err);
					_exit(1);
				}
				run_free(&r);
			}
			_exit(0);
		}
	}
	for (int p = 0; p < 8; p++) {
		assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	/* every device on vfio-pci has a record, every record names a device on vfio-pci */
	char *state_text = fx_read(s.fx, "run/iopass/state");
	static const char *const all[] = { "0000:01:00.0", "0000:01:00.1", "0000:00:14.0", "0000:03:00.3" };

	for (size_t i = 0; i < 4; i++) {
		char drv[64];
		bool on_vfio = strcmp(fx_driver(s.fx, all[i], drv, sizeof(drv)), "vfio-pci") == 0;
		bool recorded = state_text && strstr(state_text, all[i]);

		if (on_vfio != recorded)
			fprintf(stderr, "%s: driver %s, record %s\n", all[i], drv, recorded ? "yes" : "no");
		assert_true(on_vfio == recorded);
	}
	free(state_text);
	assert_file(&s, "run/iopass/journal", NULL);
	/* and a final detach --all gives everything back */
	struct run r;

	SIM(&s, &r, "detach", "--all");
	assert_int_equal(r.status, 0);
	run_free(&r);
	{
		char d3[64];

		if (strcmp(fx_driver(s.fx, "0000:03:00.3", d3, sizeof(d3)), "") != 0) {
			char *l = sim_log(&s);

			for (char *line = strtok(l, "\n"); line; line = strtok(NULL, "\n"))
				if (strstr(line, "03:00.3"))
					fprintf(stderr, "%s\n", line);
			free(l);
		}
	}
	assert_driver(&s, "0000:01:00.0", "nvidia");
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	assert_driver(&s, "0000:03:00.3", "");
	sim_close(&s);
}

/* Hundreds of malformed device arguments: exit 2, one line naming the input, no write. */
/*
 * attach picks each device's vfio driver from modules.alias: the variant
 * whose alias matches best, vfio-pci for the rest; --driver is checked
 * against the aliases before anything is written; one run, one driver.
 */
static void test_variant_driver(void **state)
{
	struct sim s;
	struct run r;
	char *log;

	(void)state;
	sim_open(&s, fx_workstation());
	fx_add_cx6dx(s.fx);
	fx_modules_alias(s.fx, NULL, NULL);
	fx_add_driver(s.fx, "mlx5_vfio_pci");

	SIM(&s, &r, "attach", "06:00.1");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:06:00.1: no driver -> mlx5_vfio_pci\n");
	run_free(&r);
	assert_driver(&s, "0000:06:00.1", "mlx5_vfio_pci");
	/* again: already there, nothing written */
	assert_attach_noop(&s, "06:00.1", "0000:06:00.1: unchanged (mlx5_vfio_pci)\n");
	SIM(&s, &r, "detach", "06:00.1");
	assert_int_equal(r.status, 0);
	run_free(&r);
	assert_driver(&s, "0000:06:00.1", "");

	/* the generic driver, asked for */
	SIM(&s, &r, "attach", "--driver", "vfio-pci", "06:00.2");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:06:00.2: no driver -> vfio-pci\n");
	run_free(&r);
	/* a device on a vfio driver stays on it, and does not hold 06:00.1 back from its variant */
	assert_attach_noop(&s, "06:00.2", "0000:06:00.2: unchanged (vfio-pci)\n");
	SIM(&s, &r, "attach", "-n", "06:00.1", "06:00.2");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "echo mlx5_vfio_pci > "));
	assert_non_null(strstr(r.out, "0000:06:00.2: unchanged"));
	run_free(&r);
	/* --persist gives the boot configuration one driver: not with 06:00.2 staying on another */
	USAGE_ERR(&s, "iopass: attach: --persist: 0000:06:00.2 stays on vfio-pci while the run binds "
		      "mlx5_vfio_pci, and the boot configuration gets one driver for all: name it with "
		      "--driver, or persist them in separate runs\n",
		  "attach", "--persist", "06:00.1", "06:00.2");
	/* two drivers in one run: all go to vfio-pci, said (a shared group must go in one run) */
	SIM(&s, &r, "attach", "-n", "06:00.1", "03:00.3");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.err, "iopass: attach: warning: 0000:06:00.1 would go to mlx5_vfio_pci and "
				 "0000:03:00.3 to vfio-pci, but one run binds one driver: all go to vfio-pci; "
				 "attach them in separate runs (a shared IOMMU group cannot be) or name the "
				 "driver with --driver\n");
	assert_null(strstr(r.out, "mlx5_vfio_pci"));
	run_free(&r);
	sim_log_reset(&s);
	/* a variant that does not claim the device: a usage error, no write */
	USAGE_ERR(&s, "iopass: attach: --driver mlx5_vfio_pci does not claim 0000:03:00.3: no vfio_pci "
		      "alias of mlx5_vfio_pci in modules.alias of 6.1.0-28-amd64 matches it "
		      "(vfio_pci:v000015B3d00001018...); 'iopass check -v 0000:03:00.3' names the driver "
		      "that does, and --driver vfio-pci binds any device\n",
		  "attach", "--driver", "mlx5_vfio_pci", "03:00.3");
	EXIT_2(&s, "attach", "--driver", "pds_vfio_pci", "06:00.1");
	/* no vfio driver of that name (a host driver, a misspelling): said as such */
	USAGE_ERR(&s, "iopass: attach: --driver e1000e: no vfio driver of that name in modules.alias of "
		      "6.1.0-28-amd64; vfio-pci binds any device, and 'iopass list -o +VFIO_DRIVER' "
		      "shows the variant each device takes\n",
		  "attach", "--driver", "e1000e", "00:14.0");
	EXIT_2(&s, "attach", "--driver", "mlx5-vfio-pci", "06:00.1");
	log = sim_log(&s);
	assert_string_equal(log, "");
	free(log);
	assert_driver(&s, "0000:06:00.1", "");
	assert_driver(&s, "0000:03:00.3", "");
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	/* without modules.alias a variant cannot be checked, and the kernel would bind it anyway */
	fx_unlink(s.fx, "lib/modules/6.1.0-28-amd64/modules.alias");
	USAGE_ERR(&s, "iopass: attach: --driver mlx5_vfio_pci: cannot tell whether it claims "
		      "0000:06:00.1 (no modules.alias was read), and the kernel binds whatever driver "
		      "driver_override names; --driver vfio-pci binds any device\n",
		  "attach", "--driver", "mlx5_vfio_pci", "06:00.1");
	fx_modules_alias(s.fx, NULL, NULL);
	/* --driver moves a device between vfio drivers */
	SIM(&s, &r, "attach", "--driver", "mlx5_vfio_pci", "06:00.2");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:06:00.2: vfio-pci -> mlx5_vfio_pci\n");
	run_free(&r);
	sim_close(&s);
}

static void test_malformed_arguments(void **state)
{
	static const char *const seeds[] = {
		"0000:00:00.8", "1:2:3.4.5", "../../etc", "0000:01:00.0/..", "-1", "0000:01:00.-1",
		"00:20.0", "0000:1g:00.0", "group:", "group:-1", "group:x1", "group:99999999999", "",
		"0000:01:00.0\n", "0000:01:00.0 ", " 01:00.0", "01:00.0.0", "0000:0001:00.0",
		"\xff\xfe", "%s%s%n", "01:00.0;reboot", "$(reboot)", "0x01:00.0",
	};
	struct sim s;
	int count = 0;
	char *log;

	(void)state;
	/* the long runs: under ASan in CI; valgrind (scripts/valgrind.sh) runs the rest */
	if (getenv("IOPASS_TEST_QUICK")) {
		skip();
		return;
	}
	sim_open(&s, fx_workstation());
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		for (int variant = 0; variant < 6; variant++) {
			static const char *const cmds[] = { "attach", "detach", "check", "emit", "list", "vf" };
			char arg[600];
			struct run r;
			const char *argv[5] = { cmds[variant] };

			/* the seed, and an overlong form of it */
			if (i % 2)
				snprintf(arg, sizeof(arg), "%s%0400d", seeds[i], 7);
			else
				snprintf(arg, sizeof(arg), "%s", seeds[i]);
			if (variant == 5) {
				argv[1] = "create";
				argv[2] = arg;
				argv[3] = "1";
			} else {
				argv[1] = arg;
			}
			sim_run(&s, &r, argv);
			if (r.status != 2 || count_lines(r.err) != 1 || strchr(r.err, 0) != r.err + strlen(r.err)) {
				fprintf(stderr, "%s '%s': status %d: %s", cmds[variant], arg, r.status, r.err);
				fail();
			}
			assert_string_equal(r.out, "");
			run_free(&r);
			count++;
		}
	log = sim_log(&s);
	assert_string_equal(log, "");
	free(log);
	/* judged under the lock (run/iopass/lock), with no journal and no record */
	assert_false(fx_exists(s.fx, "run/iopass/journal"));
	assert_false(fx_exists(s.fx, "run/iopass/state"));
	fprintf(stderr, "malformed arguments: %d runs, each exit 2 with one line, no write\n", count);
	sim_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attach_detach),
		cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_group),
		cmocka_unit_test(test_guards),
		cmocka_unit_test(test_sysroot_env_as_root),
		cmocka_unit_test(test_bad_input_writes_nothing),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_vanish),
		cmocka_unit_test(test_detach_record),
		cmocka_unit_test(test_detach_group_open),
		cmocka_unit_test(test_sigkill_recovery),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_planted_control_links),
		cmocka_unit_test(test_sysroot_links_out),
		cmocka_unit_test(test_sysroot_lookup_eagain),
		cmocka_unit_test(test_hostile_state),
		cmocka_unit_test(test_corrupt_journal),
		cmocka_unit_test(test_needs_root),
		cmocka_unit_test(test_vf_create_attach),
		cmocka_unit_test(test_vf_plan_is_the_run),
		cmocka_unit_test(test_vf_errors),
		cmocka_unit_test(test_fault_matrix),
		cmocka_unit_test(test_vf_fault_matrix),
		cmocka_unit_test(test_concurrency_storm),
		cmocka_unit_test(test_malformed_arguments),
		cmocka_unit_test(test_variant_driver),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * apply against the simulated kernel: convergence and idempotence, --check
 * writing nothing, refusals (a line that cannot be resolved, a guard) before
 * any write, a failed step undoing the moves before it, SIGKILL at every
 * durable step followed by a run that converges.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

/* iopass where the generated rule runs it, as after cmake --install */
static void install_helper(struct fx *fx)
{
	char *path;

	fx_printf(fx, &(IOPASS_SBINDIR_TEST "/iopass")[1], "#!/bin/sh\n");
	assert_true(asprintf(&path, "%s%s/iopass", fx_root(fx), IOPASS_SBINDIR_TEST) > 0);
	assert_int_equal(chmod(path, 0755), 0);
	free(path);
}

/* The workstation with a secondary GPU, a Debian os-release and the helper installed. */
static struct fx *fx_apply(void)
{
	struct fx *fx = fx_secondary_gpu();

	fx_add_driver(fx, "vfio-pci");
	fx_printf(fx, "etc/os-release", "ID=debian\n");
	fx_mkdir(fx, "sys/module/nvidia");
	fx_symlink(fx, "sys/bus/pci/drivers/nvidia/module", "../../../../module/nvidia");
	install_helper(fx);
	return fx;
}

/* The desired state as a file outside the sysroot's /etc: its path (free it). */
static char *desired(struct sim *s, const char *text)
{
	char *path;

	fx_printf(s->fx, "desired.txt", "%s", text);
	assert_true(asprintf(&path, "%s/desired.txt", fx_root(s->fx)) > 0);
	return path;
}

/* the exit status, with what iopass said when it is not the one expected */
#define assert_status(r, expected)                                                            \
	do {                                                                                   \
		if ((r)->status != (expected))                                                 \
			fprintf(stderr, "stdout:\n%s\nstderr:\n%s\n", (r)->out, (r)->err);        \
		assert_int_equal((r)->status, (expected));                                     \
	} while (0)

static void assert_no_writes(struct sim *s)
{
	char *log = sim_log(s);

	assert_string_equal(log, "");
	free(log);
	assert_file(s, "run/iopass/journal", NULL);
	assert_file(s, "etc/iopass/persist", NULL);
}

static const char gpu_vfs[] =
	"# the GPU for the VM, from boot on; four VFs of the NIC on vfio-pci\n"
	"0000:01:00.0 10de:1b80 vfio-pci boot\n"
	"0000:01:00.1 10de:10f0 vfio-pci boot   # its audio function\n"
	"0000:00:14.0 8086:a2af host\n"
	"*            15b3:1017 host vfs=4 vf-driver=vfio-pci\n";

static void test_apply_converges(void **state)
{
	struct sim s;
	struct run r;
	char *file, *log;

	(void)state;
	sim_open(&s, fx_apply());
	file = desired(&s, gpu_vfs);

	/* --check: the plan, exit 4, nothing written */
	SIM(&s, &r, "apply", "--check", file);
	assert_status(&r, 4);
	assert_text_equal(r.out, "would change: 0000:01:00.0: driver nvidia -> vfio-pci\n"
				 "would change: 0000:01:00.0: boot no -> yes\n"
				 "would change: 0000:01:00.1: driver snd_hda_intel -> vfio-pci\n"
				 "would change: 0000:01:00.1: boot no -> yes\n"
				 "would change: 0000:03:00.0: vfs 2 -> 4\n");
	run_free(&r);
	assert_no_writes(&s);
	SIM(&s, &r, "apply", "--check", "-J", file);
	assert_status(&r, 4);
	assert_non_null(strstr(r.out, "{\n  \"schema\": 1,\n  \"ok\": true,\n  \"check\": true,\n"
				      "  \"changed\": true,\n"));
	assert_non_null(strstr(r.out, "  \"refused\": [],\n  \"forced\": [],\n  \"recovered\": [],\n"
				      "  \"boot\": {\n    \"changed\": true,\n"
				      "    \"initramfs\": \"update-initramfs -u\"\n  }\n}\n"));
	assert_non_null(strstr(r.out, "      \"line\": 5,\n      \"bdf\": \"0000:03:00.0\",\n"
				      "      \"field\": \"vfs\",\n      \"from\": \"2\",\n"
				      "      \"to\": \"4\",\n      \"status\": \"planned\"\n"));
	run_free(&r);
	assert_no_writes(&s);

	SIM(&s, &r, "apply", file);
	assert_status(&r, 4);
	assert_text_equal(r.out, "0000:01:00.0: driver nvidia -> vfio-pci\n"
				 "0000:01:00.0: boot no -> yes\n"
				 "0000:01:00.1: driver snd_hda_intel -> vfio-pci\n"
				 "0000:01:00.1: boot no -> yes\n"
				 "0000:03:00.0: vfs 2 -> 4\n");
	assert_non_null(strstr(r.err, "update-initramfs -u"));
	run_free(&r);
	assert_driver(&s, "0000:01:00.0", "vfio-pci");
	assert_driver(&s, "0000:01:00.1", "vfio-pci");
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	assert_file(&s, "sys/bus/pci/devices/0000:03:00.0/sriov_numvfs", "4");
	for (int f = 2; f <= 5; f++) {
		char bdf[16];

		snprintf(bdf, sizeof(bdf), "0000:03:00.%d", f);
		assert_driver(&s, bdf, "vfio-pci");
	}
	assert_file(&s, "etc/iopass/persist", "iopass-persist 1\n0000:01:00.0 10de:1b80 nvidia\n"
					       "0000:01:00.1 10de:10f0 snd_hda_intel");
	assert_file(&s, "run/iopass/journal", NULL);
	assert_file(&s, "etc/iopass/journal", NULL);

	/* again: nothing to do, no write at all */
	sim_log_reset(&s);
	SIM(&s, &r, "apply", file);
	assert_status(&r, 0);
	assert_non_null(strstr(r.out, "unchanged: the host matches /"));
	assert_int_equal(count_lines(r.out), 1);
	run_free(&r);
	log = sim_log(&s);
	assert_string_equal(log, "");
	free(log);

	/* the GPU goes back: its drivers, and out of the boot configuration */
	free(file);
	file = desired(&s, "0000:01:00.0 10de:1b80 host\n0000:01:00.1 10de:10f0 host\n");
	SIM(&s, &r, "apply", file);
	assert_status(&r, 4);
	assert_text_equal(r.out, "0000:01:00.0: driver vfio-pci -> nvidia\n"
				 "0000:01:00.0: boot yes -> no\n"
				 "0000:01:00.1: driver vfio-pci -> snd_hda_intel\n"
				 "0000:01:00.1: boot yes -> no\n");
	run_free(&r);
	assert_driver(&s, "0000:01:00.0", "nvidia");
	assert_driver(&s, "0000:01:00.1", "snd_hda_intel");
	assert_file(&s, "etc/iopass/persist", NULL);
	assert_file(&s, "etc/udev/rules.d/60-iopass.rules", NULL);
	/* the NIC's VFs were not named: left alone */
	assert_driver(&s, "0000:03:00.2", "vfio-pci");
	free(file);
	sim_close(&s);
}


/* A line that cannot be applied refuses the whole run before any write, each line named. */
static void test_apply_refusals(void **state)
{
	static const struct {
		const char *text, *err;
		int status;
	} cases[] = {
		/* another card at the address: never applied to it, optional or not */
		{ "0000:00:14.0 8086:a2af vfio-pci\n0000:01:00.0 10de:1b81 vfio-pci optional\n",
		  "iopass: apply: line 2: another card sits at 0000:01:00.0: 10de:1b80/1043:8591, not "
		  "10de:1b81; correct the line for this host\n", 3 },
		{ "0000:00:14.0 8086:a2af vfio-pci\n0000:05:00.0 8086:10d3 vfio-pci\n",
		  "iopass: apply: line 2: no device at 0000:05:00.0 (the line is for 8086:10d3); mark "
		  "the line 'optional' if the card may be absent\n", 3 },
		{ "* 15b3:1018 vfio-pci\n",
		  "iopass: apply: line 1: no 15b3:1018 on this host but VFs (select those with "
		  "pf=ADDRESS); mark the line 'optional' if the card may be absent\n", 3 },
		{ "* 15b3:1018 vfio-pci pf=0000:03:00.0\n",
		  "iopass: apply: line 1: 2 devices are 15b3:1018 (0000:03:00.0); name one by address, "
		  "or add nth=K\n", 3 },
		{ "0000:01:00.0 10de:1b80 host vfs=2\n",
		  "iopass: apply: line 1: vfs=2: 0000:01:00.0 is not an SR-IOV physical function (no "
		  "sriov_totalvfs); drop vfs= from the line\n", 3 },
		{ "0000:03:00.0 15b3:1017 host vfs=9\n",
		  "iopass: apply: line 1: vfs=9, but 0000:03:00.0 supports at most 8 VFs "
		  "(sriov_totalvfs); correct vfs=\n", 3 },
		{ "0000:03:00.0 15b3:1017 host vfs=4\n* 15b3:1018 vfio-pci pf=0000:03:00.0 nth=5\n",
		  "iopass: apply: line 2: nth=5, but 0000:03:00.0 gets 4 VFs (line 1); correct nth= or "
		  "vfs=\n", 3 },
		/* pf= lines of a PF whose VFs the run makes anew: checked before the first write */
		{ "0000:03:00.0 15b3:1017 host vfs=0\n* 15b3:1018 vfio-pci pf=0000:03:00.0\n",
		  "iopass: apply: line 2: line 1 gives 0000:03:00.0 vfs=0: no VF is left for it; drop "
		  "the line, or mark it 'optional'\n", 3 },
		{ "0000:03:00.0 15b3:1017 host vfs=3\n* 15b3:1019 vfio-pci pf=0000:03:00.0 nth=1\n",
		  "iopass: apply: line 2: the VFs that line 1 makes on 0000:03:00.0 are 15b3:1018 "
		  "(sriov_vf_device), not 15b3:1019; correct the IDs, or mark the line 'optional'\n", 3 },
		{ "0000:03:00.0 15b3:1017 host vfs=3\n* 15b3:1018 vfio-pci pf=0000:03:00.0\n",
		  "iopass: apply: line 2: 0000:03:00.0 gets 3 VFs of 15b3:1018 (line 1); add nth=K to "
		  "say which\n", 3 },
		{ "0000:03:00.2 15b3:1018 vfio-pci\n0000:03:00.0 15b3:1017 host vfs=3\n",
		  "iopass: apply: line 1: 0000:03:00.2 is a VF of 0000:03:00.0, whose VFs line 2 makes anew "
		  "(vfs=); select it as '* 15b3:1018 vfio-pci pf=0000:03:00.0 nth=K'\n", 3 },
		/* two lines for one VF to be; subsystem IDs of VFs not made yet */
		{ "0000:03:00.0 15b3:1017 host vfs=1\n* 15b3:1018 vfio-pci pf=0000:03:00.0\n"
		  "* 15b3:1018 vfio-pci pf=0000:03:00.0 nth=1\n",
		  "iopass: apply: line 3: the same VF as line 2 (VF 1 of 0000:03:00.0); one line per "
		  "device\n", 3 },
		{ "0000:03:00.0 15b3:1017 host vfs=3\n* 15b3:1018/15b3:0007 vfio-pci pf=0000:03:00.0 nth=1\n",
		  "iopass: apply: line 2: the subsystem IDs of VFs that line 1 makes cannot be checked "
		  "before they are there; drop /15b3:0007 from the line, or mark it 'optional'\n", 3 },
		/* a generator that failed upstream: not "the host matches" */
		{ "",
		  "iopass: apply: %s names no device; a desired state has one line per device (an empty "
		  "one would change nothing)\n", 2 },
		{ "0000:00:14.0 8086:a2af vfio-pci\n* 8086:a2af host\n",
		  "iopass: apply: line 2: the same device as line 1 (0000:00:14.0); one line per device\n", 3 },
		/* the parser's: a usage error, before the host is read */
		{ "0000:00:14.0 8086:a2af vfio-pci\n0000:01:00.0 10de:1b80 nouveau\n",
		  "iopass: apply: %s: line 2: 'nouveau': not a target driver; write vfio-pci, a vfio "
		  "variant driver (e.g. mlx5_vfio_pci), or host\n", 2 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sim s;
		struct run r;
		char *file, *want;

		sim_open(&s, fx_apply());
		file = desired(&s, cases[i].text);
		/* the parser's errors name the file first */
		assert_true(asprintf(&want, "%s%s%s", cases[i].status == 2 ? "iopass: apply: " : "",
				     cases[i].status == 2 ? file : "",
				     cases[i].err + (cases[i].status == 2 ? strlen("iopass: apply: %s") : 0)) > 0);
		for (int check = 0; check <= 1; check++) {
			SIM(&s, &r, "apply", check ? "--check" : "--wait=1", file);
			assert_status(&r, cases[i].status);
			if (!strstr(r.err, want))
				fprintf(stderr, "case %zu: %s", i, r.err);
			assert_non_null(strstr(r.err, want));
			assert_string_equal(r.out, "");
			run_free(&r);
			assert_no_writes(&s);
			/* the USB controller of line 1 stays: all or nothing */
			assert_driver(&s, "0000:00:14.0", "xhci_hcd");
		}
		free(want);
		free(file);
		sim_close(&s);
	}
}

/* An absent card on an 'optional' line is no refusal; the rest is applied. */
static void test_apply_optional(void **state)
{
	struct sim s;
	struct run r;
	char *file;

	(void)state;
	sim_open(&s, fx_apply());
	file = desired(&s, "0000:05:00.0 8086:10d3 vfio-pci optional\n"
			   "* 8086:1521 vfio-pci nth=2 optional\n"
			   "0000:00:14.0 8086:a2af vfio-pci\n");
	SIM(&s, &r, "apply", file);
	assert_status(&r, 4);
	assert_text_equal(r.out, "0000:00:14.0: driver xhci_hcd -> vfio-pci\n");
	run_free(&r);
	assert_driver(&s, "0000:00:14.0", "vfio-pci");
	free(file);
	sim_close(&s);
}

/*
 * Every guard of the plan runs before the first write: a VM holding the group
 * of a device the file gives back refuses the run, the GPU's attach included;
 * --force takes it. Guards of attach (the boot VGA) likewise.
 */
static void test_apply_guards(void **state)
{
	struct sim s;
	struct run r;
	char *file;

	(void)state;
	sim_open(&s, fx_apply());
	file = desired(&s, "0000:01:00.0 10de:1b80 vfio-pci\n0000:01:00.1 10de:10f0 vfio-pci\n"
			   "0000:03:00.2 15b3:1018 host\n");
	fx_printf(s.fx, "proc/4242/comm", "qemu-system-x86\n");
	fx_symlink(s.fx, "proc/4242/fd/17", "/dev/vfio/6");
	SIM(&s, &r, "apply", file);
	assert_status(&r, 3);
	assert_non_null(strstr(r.err, "0000:03:00.2: group 6 is open by qemu-system-x86 (pid 4242, "
				      "/dev/vfio/6): a VM is using it; pass --force to override\n"));
	assert_non_null(strstr(r.err, "iopass: apply: refused: nothing was changed\n"));
	run_free(&r);
	assert_no_writes(&s);
	assert_driver(&s, "0000:01:00.0", "nvidia");

	/* the JSON of a refusal: the findings, nothing changed */
	SIM(&s, &r, "apply", "-J", file);
	assert_status(&r, 3);
	assert_non_null(strstr(r.out, "\"changed\": false"));
	assert_non_null(strstr(r.out, "\"refused\": [\n"));
	assert_non_null(strstr(r.out, "\"code\": \"group-open\""));
	run_free(&r);

	SIM(&s, &r, "apply", "--force", file);
	assert_status(&r, 4);
	assert_non_null(strstr(r.err, "warning: forced: 0000:03:00.2: group 6 is open"));
	run_free(&r);
	assert_driver(&s, "0000:01:00.0", "vfio-pci");
	assert_driver(&s, "0000:03:00.2", "mlx5_core");
	free(file);

	/* attach's guards: the boot display the host uses */
	sim_close(&s);
	sim_open(&s, fx_workstation());
	fx_add_driver(s.fx, "vfio-pci");
	file = desired(&s, "0000:00:14.0 8086:a2af vfio-pci\n0000:01:00.0 10de:1b80 vfio-pci\n"
			   "0000:01:00.1 10de:10f0 vfio-pci\n");
	SIM(&s, &r, "apply", file);
	assert_status(&r, 3);
	assert_non_null(strstr(r.err, "0000:01:00.0: "));
	run_free(&r);
	assert_no_writes(&s);
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	free(file);
	sim_close(&s);
}

/*
 * A step that fails undoes the moves made before it: the VF given back to the
 * host goes onto vfio-pci again when the GPU's attach fails.
 */
static void test_apply_failure_undoes(void **state)
{
	struct sim s;
	struct run r;
	char *file;

	(void)state;
	sim_open(&s, fx_apply());
	file = desired(&s, "0000:01:00.0 10de:1b80 vfio-pci\n0000:01:00.1 10de:10f0 vfio-pci\n"
			   "0000:03:00.2 15b3:1018 host\n");
	snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=probe:0000:01:00.1:EIO");
	SIM(&s, &r, "apply", file);
	assert_status(&r, 1);
	assert_non_null(strstr(r.err, "iopass: apply: 0000:01:00.1: probing vfio-pci failed: "
				      "Input/output error; every device is back on its driver, the host "
				      "is as it was; the moves this run made before it were undone\n"));
	/* each change with what became of it */
	assert_text_equal(r.out, "0000:01:00.0: driver nvidia -> vfio-pci (rolled-back)\n"
				 "0000:01:00.1: driver snd_hda_intel -> vfio-pci (rolled-back)\n"
				 "0000:03:00.2: driver vfio-pci -> host (rolled-back)\n");
	run_free(&r);
	assert_driver(&s, "0000:01:00.0", "nvidia");
	assert_driver(&s, "0000:01:00.1", "snd_hda_intel");
	assert_driver(&s, "0000:03:00.2", "vfio-pci");
	/* and its override as it was: none */
	assert_file(&s, "sys/bus/pci/devices/0000:03:00.2/driver_override", "(null)");
	assert_file(&s, "run/iopass/journal", NULL);
	assert_file(&s, "run/iopass/state", NULL);

	/* JSON: each change with what became of it */
	SIM(&s, &r, "apply", "-J", file);
	assert_status(&r, 1);
	assert_non_null(strstr(r.out, "\"bdf\": \"0000:03:00.2\",\n      \"field\": \"driver\",\n"
				      "      \"from\": \"vfio-pci\",\n      \"to\": \"host\",\n"
				      "      \"status\": \"rolled-back\""));
	run_free(&r);
	s.env_fail[0] = '\0';
	SIM(&s, &r, "apply", file);
	assert_status(&r, 4);
	run_free(&r);
	assert_driver(&s, "0000:01:00.1", "vfio-pci");
	assert_driver(&s, "0000:03:00.2", "mlx5_core");
	free(file);
	sim_close(&s);
}

/*
 * An apply that gives back a device attached with --reset-method, undone after a
 * later failure: the device is on vfio-pci again with the methods it had, and
 * the record still knows the ones to give back.
 */
static void test_apply_undo_keeps_reset_methods(void **state)
{
	struct sim s;
	struct run r;
	char *file, *m;

	(void)state;
	sim_open(&s, fx_apply());
	SIM(&s, &r, "attach", "--reset-method", "bus,flr", "02:00.0", "--force");
	assert_status(&r, 0);
	run_free(&r);
	file = desired(&s, "0000:02:00.0 144d:a808 host\n0000:00:14.0 8086:a2af vfio-pci\n");
	snprintf(s.env_fail, sizeof(s.env_fail), "IOPASS_SIM_FAIL=probe:0000:00:14.0:EIO");
	SIM(&s, &r, "apply", "--force", file);
	assert_status(&r, 1);
	run_free(&r);
	s.env_fail[0] = '\0';
	assert_driver(&s, "0000:02:00.0", "vfio-pci");
	m = fx_read(s.fx, "sys/bus/pci/devices/0000:02:00.0/reset_method");
	assert_text_equal(m, "bus flr");
	free(m);
	assert_file(&s, "run/iopass/state", "iopass-state 2\n0000:02:00.0 nvme - reset=flr,bus");
	SIM(&s, &r, "detach", "02:00.0");
	assert_status(&r, 0);
	run_free(&r);
	m = fx_read(s.fx, "sys/bus/pci/devices/0000:02:00.0/reset_method");
	assert_text_equal(m, "flr bus");
	free(m);
	free(file);
	sim_close(&s);
}

/*
 * SIGKILL after every durable step of a run that changes VF counts, drivers
 * and the boot configuration: the next apply recovers and converges, and the
 * one after it changes nothing.
 */
static void test_apply_kill_matrix(void **state)
{
	int steps = 0;

	(void)state;
	/* under valgrind (IOPASS_TEST_QUICK): every fifth step */
	int stride = getenv("IOPASS_TEST_QUICK") ? 5 : 1;

	for (int k = 1; k < 200; k += stride) {
		struct sim s;
		struct run r;
		char *file, *log;

		sim_open(&s, fx_apply());
		file = desired(&s, gpu_vfs);
		snprintf(s.env_kill, sizeof(s.env_kill), "IOPASS_SIM_KILL_AFTER_OP=%d", k);
		SIM(&s, &r, "apply", file);
		if (r.status != 128 + SIGKILL) {
			/* past the last step: the run completed */
			assert_status(&r, 4);
			run_free(&r);
			free(file);
			sim_close(&s);
			steps = k - 1;
			break;
		}
		run_free(&r);
		s.env_kill[0] = '\0';
		SIM(&s, &r, "apply", file);
		if (r.status != 0 && r.status != 4)
			fprintf(stderr, "killed after step %d:\n%s", k, r.err);
		assert_true(r.status == 0 || r.status == 4);
		run_free(&r);
		assert_driver(&s, "0000:01:00.0", "vfio-pci");
		assert_driver(&s, "0000:01:00.1", "vfio-pci");
		assert_driver(&s, "0000:03:00.5", "vfio-pci");
		assert_file(&s, "sys/bus/pci/devices/0000:03:00.0/sriov_numvfs", "4");
		assert_file(&s, "run/iopass/journal", NULL);
		assert_file(&s, "etc/iopass/journal", NULL);
		sim_log_reset(&s);
		SIM(&s, &r, "apply", file);
		assert_status(&r, 0);
		run_free(&r);
		log = sim_log(&s);
		assert_string_equal(log, "");
		free(log);
		free(file);
		sim_close(&s);
	}
	/* the run has its steps: journals, VF writes, moves, records, the boot files */
	assert_true(steps > 20 - stride);
}

/* The default file: root's /etc/iopass/desired, refused when others may write it. */
static void test_apply_default_file(void **state)
{
	struct sim s;
	struct run r;
	char *path;

	(void)state;
	sim_open(&s, fx_apply());
	SIM(&s, &r, "apply", "--check");
	assert_status(&r, 2);
	assert_non_null(strstr(r.err, "/etc/iopass/desired: No such file or directory; name a FILE"));
	run_free(&r);
	fx_printf(s.fx, "etc/iopass/desired", "0000:00:14.0 8086:a2af vfio-pci\n");
	assert_true(asprintf(&path, "%s/etc/iopass", fx_root(s.fx)) > 0);
	assert_int_equal(chmod(path, 0755), 0);
	free(path);
	SIM(&s, &r, "apply", "--check");
	assert_status(&r, 4);
	assert_text_equal(r.out, "would change: 0000:00:14.0: driver xhci_hcd -> vfio-pci\n");
	run_free(&r);
	assert_true(asprintf(&path, "%s/etc/iopass/desired", fx_root(s.fx)) > 0);
	assert_int_equal(chmod(path, 0666), 0);
	free(path);
	SIM(&s, &r, "apply");
	assert_status(&r, 2);
	assert_non_null(strstr(r.err, "not root's, or writable by others"));
	run_free(&r);
	assert_no_writes(&s);
	sim_close(&s);
}

/* --diff: every field of every line, = for those that match */
static void test_apply_diff(void **state)
{
	struct sim s;
	struct run r;
	char *file;

	(void)state;
	sim_open(&s, fx_apply());
	file = desired(&s, "0000:00:14.0 8086:a2af vfio-pci boot\n0000:02:00.0 144d:a808 host\n");
	SIM(&s, &r, "apply", "--check", "--diff", file);
	assert_status(&r, 4);
	assert_text_equal(r.out, "0000:00:14.0 driver xhci_hcd -> vfio-pci\n"
				 "0000:00:14.0 boot no -> yes\n"
				 "0000:02:00.0 driver host = host\n"
				 "0000:02:00.0 boot no = no\n");
	run_free(&r);
	free(file);
	sim_close(&s);
}

/* A boot file edited by hand stops the run before its first write, not after the moves. */
static void test_apply_boot_files_checked_first(void **state)
{
	struct sim s;
	struct run r;
	char *file;

	(void)state;
	sim_open(&s, fx_apply());
	fx_printf(s.fx, "etc/udev/rules.d/60-iopass.rules", "# mine\n");
	file = desired(&s, "0000:00:14.0 8086:a2af vfio-pci boot\n");
	SIM(&s, &r, "apply", file);
	assert_status(&r, 1);
	assert_non_null(strstr(r.err, "iopass: apply: /etc/udev/rules.d/60-iopass.rules was edited "
				      "by hand (or is not iopass's); nothing was changed"));
	assert_string_equal(r.out, "");
	run_free(&r);
	SIM(&s, &r, "apply", "-J", file);
	assert_status(&r, 1);
	assert_non_null(strstr(r.out, "\"changed\": false"));
	assert_non_null(strstr(r.out, "\"status\": \"not-run\""));
	assert_null(strstr(r.out, "\"status\": \"planned\""));
	run_free(&r);
	assert_no_writes(&s);
	assert_driver(&s, "0000:00:14.0", "xhci_hcd");
	assert_file(&s, "etc/udev/rules.d/60-iopass.rules", "# mine");
	SIM(&s, &r, "apply", "--force", file);
	assert_status(&r, 4);
	run_free(&r);
	assert_driver(&s, "0000:00:14.0", "vfio-pci");
	assert_file(&s, "etc/iopass/persist", "iopass-persist 1\n0000:00:14.0 8086:a2af xhci_hcd");
	free(file);
	sim_close(&s);
}

/* A group split by the file: one function to vfio, another back to the host, is not viable. */
static void test_apply_group_split(void **state)
{
	struct sim s;
	struct run r;
	char *file;

	(void)state;
	sim_open(&s, fx_apply());
	SIM(&s, &r, "attach", "01:00.1");
	assert_status(&r, 3); /* alone it is not viable either: the guard attach has */
	run_free(&r);
	SIM(&s, &r, "attach", "01:00.0", "01:00.1");
	assert_status(&r, 0);
	run_free(&r);
	sim_log_reset(&s);
	file = desired(&s, "0000:01:00.0 10de:1b80 host\n0000:01:00.1 10de:10f0 vfio-pci\n");
	SIM(&s, &r, "apply", file);
	assert_status(&r, 3);
	assert_non_null(strstr(r.err, "iopass: apply: 0000:01:00.0: goes back to the host in this "
				      "run while 0000:01:00.1 of its group 1 is on a vfio driver: "
				      "VFIO will not open the group; pass --force to override\n"));
	run_free(&r);
	assert_no_writes(&s);
	/* both back: fine */
	free(file);
	file = desired(&s, "0000:01:00.0 10de:1b80 host\n0000:01:00.1 10de:10f0 host\n");
	SIM(&s, &r, "apply", file);
	assert_status(&r, 4);
	run_free(&r);
	assert_driver(&s, "0000:01:00.1", "snd_hda_intel");
	free(file);
	sim_close(&s);
}

/*
 * Lines that select VFs by pf= of a PF whose count changes are planned once
 * the VFs are made; vf-driver=host gives the PF's VFs back.
 */
static void test_apply_vf_lines(void **state)
{
	struct sim s;
	struct run r;
	char *file;

	(void)state;
	sim_open(&s, fx_apply());
	file = desired(&s, "0000:03:00.0 15b3:1017 host vfs=3\n"
			   "* 15b3:1018 vfio-pci pf=0000:03:00.0 nth=3\n");
	SIM(&s, &r, "apply", "--check", file);
	assert_status(&r, 4);
	assert_text_equal(r.out, "would change: 0000:03:00.0: vfs 2 -> 3\n");
	assert_non_null(strstr(r.err, "note: the drivers of the VFs that vfs= makes (pf= lines, "
				      "vf-driver=) are planned once the VFs are made\n"));
	run_free(&r);
	assert_no_writes(&s);
	SIM(&s, &r, "apply", file);
	assert_status(&r, 4);
	assert_text_equal(r.out, "0000:03:00.0: vfs 2 -> 3\n"
				 "0000:03:00.4: driver mlx5_core -> vfio-pci\n");
	run_free(&r);
	assert_driver(&s, "0000:03:00.2", "mlx5_core");
	assert_driver(&s, "0000:03:00.3", "mlx5_core");
	assert_driver(&s, "0000:03:00.4", "vfio-pci");
	SIM(&s, &r, "apply", file);
	assert_status(&r, 0);
	run_free(&r);
	free(file);

	/* every VF of the PF back to the host, the count as it is */
	file = desired(&s, "0000:03:00.0 15b3:1017 host vfs=3 vf-driver=host\n");
	SIM(&s, &r, "apply", file);
	assert_status(&r, 4);
	assert_text_equal(r.out, "0000:03:00.4: driver vfio-pci -> mlx5_core\n");
	run_free(&r);
	assert_driver(&s, "0000:03:00.4", "mlx5_core");
	free(file);
	sim_close(&s);
}

/*
 * What the boot step will need is checked before the first write: a directory
 * of /etc it cannot use, and the helper for a 'boot' line that waits for the VFs.
 */
static void test_apply_boot_checked_before_moves(void **state)
{
	struct sim s;
	struct run r;
	char *file, *path;

	(void)state;
	sim_open(&s, fx_apply());
	fx_mkdir(s.fx, "etc/modprobe.d");
	assert_true(asprintf(&path, "%s/etc/modprobe.d", fx_root(s.fx)) > 0);
	assert_int_equal(chmod(path, 0777), 0);
	free(path);
	file = desired(&s, "0000:01:00.0 10de:1b80 vfio-pci boot\n0000:01:00.1 10de:10f0 vfio-pci boot\n");
	for (int check = 0; check <= 1; check++) {
		SIM(&s, &r, "apply", check ? "--check" : "--wait=1", file);
		assert_status(&r, 1);
		assert_non_null(strstr(r.err, "iopass: apply: cannot use /etc/modprobe.d: it is not root's, "
					      "or others can write to it; nothing was changed\n"));
		run_free(&r);
		assert_no_writes(&s);
	}
	free(file);
	sim_close(&s);

	/* a 'boot' on a pf= line of a PF whose VFs are made: the helper is checked first */
	sim_open(&s, fx_apply());
	assert_true(asprintf(&path, "%s%s/iopass", fx_root(s.fx), IOPASS_SBINDIR_TEST) > 0);
	assert_int_equal(unlink(path), 0);
	free(path);
	file = desired(&s, "0000:03:00.0 15b3:1017 host vfs=3\n"
			   "* 15b3:1018 vfio-pci pf=0000:03:00.0 nth=1 boot\n");
	SIM(&s, &r, "apply", file);
	assert_status(&r, 1);
	assert_non_null(strstr(r.err, "'boot': the udev rule would run " IOPASS_SBINDIR_TEST "/iopass, "
				      "which does not exist (this build is not installed); nothing was changed"));
	run_free(&r);
	assert_no_writes(&s);
	assert_file(&s, "sys/bus/pci/devices/0000:03:00.0/sriov_numvfs", "2");
	free(file);
	sim_close(&s);
}

/*
 * An undo that fails too: the run says so, names why, counts the host as
 * changed, and a next run that can write converges.
 */
static void test_apply_undo_fails(void **state)
{
	struct sim s;
	struct run r;
	char *file;

	(void)state;
	sim_open(&s, fx_apply());
	file = desired(&s, "0000:01:00.0 10de:1b80 vfio-pci\n0000:01:00.1 10de:10f0 vfio-pci\n"
			   "0000:03:00.2 15b3:1018 host\n");
	/* the GPU's audio probe fails; putting the VF back on vfio-pci fails too */
	snprintf(s.env_fail, sizeof(s.env_fail),
		 "IOPASS_SIM_FAIL=probe:0000:01:00.1:EIO,unbind=mlx5_core:0000:03:00.2:EBUSY");
	SIM(&s, &r, "apply", "-J", file);
	assert_status(&r, 1);
	assert_non_null(strstr(r.out, "\"changed\": true"));
	assert_non_null(strstr(r.out, "\"status\": \"failed\""));
	assert_non_null(strstr(r.out, "; undoing the moves this run made before it failed too (0000:03:00.2: "
				      "unbinding from mlx5_core failed: Device or resource busy; every device "
				      "is back on its driver, the host is as it was): each change says where its "
				      "device is; run apply again"));
	run_free(&r);
	assert_driver(&s, "0000:01:00.0", "nvidia");
	assert_driver(&s, "0000:03:00.2", "mlx5_core");
	s.env_fail[0] = '\0';
	SIM(&s, &r, "apply", file);
	assert_status(&r, 4);
	run_free(&r);
	assert_driver(&s, "0000:01:00.1", "vfio-pci");
	SIM(&s, &r, "apply", file);
	assert_status(&r, 0);
	run_free(&r);
	free(file);
	sim_close(&s);
}

/* FILE as given: standard input, and what is no file */
static void test_apply_input(void **state)
{
	struct sim s;
	struct run r;
	char *dir;

	(void)state;
	sim_open(&s, fx_apply());
	assert_true(asprintf(&dir, "%s/etc", fx_root(s.fx)) > 0);
	SIM(&s, &r, "apply", "--check", dir);
	assert_status(&r, 2);
	assert_non_null(strstr(r.err, "iopass: apply: cannot read "));
	assert_non_null(strstr(r.err, ": Is a directory; name a readable desired-state file\n"));
	run_free(&r);
	SIM(&s, &r, "apply", "--check", "a", "b");
	assert_status(&r, 2);
	assert_non_null(strstr(r.err, "one desired-state file at most, got 2"));
	run_free(&r);
	free(dir);
	sim_close(&s);
}

/* check reports the host's drift from /etc/iopass/desired, when there is one */
static void test_check_drift(void **state)
{
	struct sim s;
	struct run r;
	char *path;

	(void)state;
	sim_open(&s, fx_apply());
	SIM(&s, &r, "check");
	assert_status(&r, 0);
	assert_null(strstr(r.out, "desired"));
	run_free(&r);
	SIM(&s, &r, "check", "-J");
	assert_non_null(strstr(r.out, "\"desired\": null"));
	run_free(&r);

	fx_printf(s.fx, "etc/iopass/desired", "0000:01:00.0 10de:1b80 vfio-pci\n"
		  "0000:01:00.1 10de:10f0 vfio-pci\n0000:00:14.0 8086:a2af host\n");
	assert_true(asprintf(&path, "%s/etc/iopass", fx_root(s.fx)) > 0);
	assert_int_equal(chmod(path, 0755), 0);
	free(path);
	SIM(&s, &r, "check");
	assert_status(&r, 0); /* drift is no verdict: apply --check exits 4 on it */
	assert_non_null(strstr(r.out, "  warn  0000:01:00.0: driver is nvidia, but /etc/iopass/desired "
				      "line 1 says vfio-pci\n"
				      "  warn  0000:01:00.1: driver is snd_hda_intel, but /etc/iopass/desired "
				      "line 2 says vfio-pci\n"
				      "        fix: 'iopass apply' makes the host match it ('iopass apply "
				      "--check' shows the plan)\n"));
	run_free(&r);
	SIM(&s, &r, "check", "-J");
	assert_non_null(strstr(r.out, "\"matches\": false"));
	assert_non_null(strstr(r.out, "\"line\": 2,\n          \"bdf\": \"0000:01:00.1\""));
	run_free(&r);
	assert_no_writes(&s);

	SIM(&s, &r, "apply");
	assert_status(&r, 4);
	run_free(&r);
	SIM(&s, &r, "check");
	assert_non_null(strstr(r.out, "  ok    the host matches /etc/iopass/desired\n"));
	assert_null(strstr(r.out, "warn"));
	run_free(&r);

	/* one that names no device: apply refuses it, check says so */
	fx_printf(s.fx, "etc/iopass/desired", "# nothing yet\n");
	SIM(&s, &r, "check");
	assert_non_null(strstr(r.out, "  warn  /etc/iopass/desired: names no device (apply refuses it: "
				      "an empty desired state would change nothing)\n"));
	run_free(&r);

	/* one that cannot be read or applied says so */
	fx_printf(s.fx, "etc/iopass/desired", "0000:01:00.0 10de:1b80 nouveau\n");
	SIM(&s, &r, "check");
	assert_non_null(strstr(r.out, "  warn  /etc/iopass/desired: line 1: 'nouveau': not a target "
				      "driver"));
	run_free(&r);
	sim_close(&s);
}

/* What a VF count needs is there before the first write: the PF's host driver, the vfio driver. */
static void test_apply_vf_needs(void **state)
{
	struct sim s;
	struct run r;
	char *file;

	(void)state;
	sim_open(&s, fx_apply());
	/* the PF bound to no driver: nothing makes its VFs */
	fx_unlink(s.fx, "sys/bus/pci/devices/0000:03:00.0/driver");
	file = desired(&s, "0000:00:14.0 8086:a2af vfio-pci\n0000:03:00.0 15b3:1017 host vfs=3\n");
	for (int check = 0; check <= 1; check++) {
		SIM(&s, &r, "apply", check ? "--check" : "--wait=1", file);
		assert_status(&r, 3);
		assert_non_null(strstr(r.err, "iopass: apply: line 2: vfs=3: 0000:03:00.0 is bound to no "
					      "driver, and VFs are made by a PF's host driver; bind it to its "
					      "host driver first (a line with vfs= gives it none)\n"));
		run_free(&r);
		assert_no_writes(&s);
	}
	free(file);
	sim_close(&s);

	/* a vfio driver that is not there: found before the VF count changes */
	sim_open(&s, fx_apply());
	file = desired(&s, "0000:03:00.0 15b3:1017 host vfs=3\n0000:00:14.0 8086:a2af nope_vfio_pci\n");
	SIM(&s, &r, "apply", "--check", file);
	assert_status(&r, 4);
	assert_non_null(strstr(r.err, "note: driver nope_vfio_pci is not loaded below the sysroot, and "
				      "modules cannot be loaded there\n"));
	run_free(&r);
	SIM(&s, &r, "apply", file);
	assert_status(&r, 1);
	assert_non_null(strstr(r.err, "iopass: apply: driver nope_vfio_pci is not loaded and could not be "
				      "loaded: "));
	assert_non_null(strstr(r.err, "; nothing was changed\n"));
	run_free(&r);
	assert_no_writes(&s);
	assert_file(&s, "sys/bus/pci/devices/0000:03:00.0/sriov_numvfs", "2");
	free(file);
	sim_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_converges),
		cmocka_unit_test(test_apply_refusals),
		cmocka_unit_test(test_apply_optional),
		cmocka_unit_test(test_apply_guards),
		cmocka_unit_test(test_apply_failure_undoes),
		cmocka_unit_test(test_apply_undo_keeps_reset_methods),
		cmocka_unit_test(test_apply_default_file),
		cmocka_unit_test(test_apply_diff),
		cmocka_unit_test(test_apply_group_split),
		cmocka_unit_test(test_apply_vf_lines),
		cmocka_unit_test(test_apply_boot_files_checked_first),
		cmocka_unit_test(test_apply_boot_checked_before_moves),
		cmocka_unit_test(test_apply_undo_fails),
		cmocka_unit_test(test_apply_input),
		cmocka_unit_test(test_check_drift),
		cmocka_unit_test(test_apply_vf_needs),
		cmocka_unit_test(test_apply_kill_matrix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-2.0-or-later
"""What the iopass.vfio modules share: running iopass, and applying a desired state.

Every change goes through 'iopass apply': the modules say what a device, a PF or a
host should be as desired-state lines (iopass(8), DESIRED STATE FILE), and iopass
plans, guards, journals and makes the change, or says it is refused. Check mode is
'apply --check'; the diff is apply's per-field before and after.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

# iopass(8), EXIT STATUS: apply's 0 unchanged, 4 changed; 3 refused, 1 failed, 2 usage
APPLY_OK = (0, 4)

# Whole values, \Z and not $ (which takes a trailing newline): a value goes into a line of the
# desired state, and a blank, a '#' or a newline in it would add fields, options or lines.
ADDRESS_RE = re.compile(r'^([0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-1][0-9a-fA-F]\.[0-7]\Z')
GROUP_RE = re.compile(r'^group:(0|[1-9][0-9]{0,8})\Z')
DRIVER_RE = re.compile(r'^[A-Za-z0-9_-]{1,64}\Z')
IDS_RE = re.compile(r'^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}(/[0-9a-fA-F]{4}:[0-9a-fA-F]{4})?\Z')

COMMON_ARGS = dict(
    sysroot=dict(type='path'),
    executable=dict(type='path'),
    force=dict(type='bool', default=False),
    wait=dict(type='int', default=30),
)


class Iopass(object):
    """The iopass binary of the managed host, with the module's sysroot."""

    def __init__(self, module):
        self.module = module
        params = module.params
        self.bin = params.get('executable') or module.get_bin_path(
            'iopass', required=True, opt_dirs=['/usr/local/sbin', '/usr/sbin', '/sbin'])
        self.sysroot = params.get('sysroot')

    def command(self, args):
        cmd = [self.bin]
        if self.sysroot:
            cmd += ['--sysroot', self.sysroot]
        return cmd + list(args)

    def run(self, args, data=None):
        return self.module.run_command(self.command(args), data=data)

    def json(self, args):
        """A read-only command's JSON document; the module fails with iopass's message otherwise."""
        rc, out, err = self.run(args)
        try:
            doc = json.loads(out)
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or (rc != 0 and rc != 3):
            self.module.fail_json(msg=err.strip() or 'iopass printed no JSON', rc=rc,
                                  cmd=self.command(args), stdout=out, stderr=err)
        return doc

    def devices(self, selector):
        """The endpoints a PCI address or group:N names, from 'list -J' (bridges left out)."""
        m = GROUP_RE.match(selector)
        doc = self.json(['list', '-J', '-g', m.group(1)] if m else ['list', '-J', selector])
        devs = [d for d in doc.get('devices', []) if not d.get('bridge')]
        if not devs:
            self.module.fail_json(msg='%s: no such device (or group without endpoints) on this host'
                                  % selector)
        return devs


def check_address(module, name, value):
    if value is not None and not ADDRESS_RE.match(value):
        module.fail_json(msg="%s=%r: not a PCI address; write DDDD:BB:SS.F" % (name, value))


def check_driver(module, name, value):
    if value is not None and not DRIVER_RE.match(value):
        module.fail_json(msg="%s=%r: not a driver name (letters, digits, _ and -)" % (name, value))


def desired_line(module, address, ids, driver, boot=False, optional=False, vfs=None,
                 vf_driver=None, nth=None, pf=None):
    """One line of a desired state (iopass(8), DESIRED STATE FILE), every field checked first."""
    if address != '*':
        check_address(module, 'address', address)
    if not isinstance(ids, str) or not IDS_RE.match(ids):
        module.fail_json(msg="ids=%r: not device IDs; write VVVV:DDDD or VVVV:DDDD/SSSS:SSSS" % (ids,))
    check_driver(module, 'driver', driver)
    check_driver(module, 'vf_driver', vf_driver)
    check_address(module, 'pf', pf)
    if vfs is not None and vfs < 0:
        module.fail_json(msg="vfs=%d: a count, 0 or more" % vfs)
    if nth is not None and nth < 1:
        module.fail_json(msg="nth=%d: an ordinal, 1 or more" % nth)
    words = [address, ids, driver]
    if boot:
        words.append('boot')
    if optional:
        words.append('optional')
    if vfs is not None:
        words.append('vfs=%d' % vfs)
    if vf_driver:
        words.append('vf-driver=%s' % vf_driver)
    if nth is not None:
        words.append('nth=%d' % nth)
    if pf:
        words.append('pf=%s' % pf)
    return ' '.join(words)


def device_ids(dev):
    return '%s:%s' % (dev['vendor_id'], dev['device_id'])


def _diff(doc):
    """apply's changes as Ansible's before/after texts, one 'ADDRESS FIELD VALUE' line each."""
    before, after = [], []
    for c in doc.get('changes', []):
        if c.get('status') == 'unchanged':
            continue
        before.append('%s %s %s\n' % (c['bdf'], c['field'], c['from']))
        after.append('%s %s %s\n' % (c['bdf'], c['field'], c['to']))
    return dict(before=''.join(before), after=''.join(after))


def _refusal(doc, stderr):
    """iopass's own words: its error, and each finding that refused the run."""
    words = [f['message'] for f in doc.get('refused', [])] if doc else []
    err = doc.get('error') if doc else None
    if err:
        words.append(err)
    return '; '.join(words) or stderr.strip() or 'iopass apply failed'


def run_apply(module, ipa, lines=None, path=None, extra=None):
    """Apply desired-state lines (or the file at path) and exit the module with the result."""
    args = ['apply', '-J', '--wait', str(module.params.get('wait', 30))]
    if module.check_mode:
        args.append('--check')
    if module.params.get('force'):
        args.append('--force')
    data = None
    if lines is not None:
        args.append('-')
        data = ''.join(line + '\n' for line in lines)
    elif path:
        args += ['--', path]
    rc, out, err = ipa.run(args, data=data)
    try:
        doc = json.loads(out) if out.strip() else None
    except ValueError:
        doc = None
    result = dict(changed=bool(doc and doc.get('changed')), exit_status=rc, iopass=doc, stderr=err)
    if lines is not None:
        result['desired'] = lines
    if extra:
        result.update(extra)
    if doc:
        result['diff'] = _diff(doc)
    if rc in APPLY_OK and doc is not None:
        module.exit_json(**result)
    module.fail_json(msg=_refusal(doc, err), refused=rc == 3, **result)

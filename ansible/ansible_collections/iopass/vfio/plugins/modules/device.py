#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-2.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: device
short_description: Put PCI devices on vfio-pci, or give them back to the host, with iopass
version_added: 0.1.0
description:
  - Makes a PCI device (or every endpoint of an IOMMU group) be on C(vfio-pci) or a vfio variant
    driver (I(state=attached)), or with its host driver (I(state=detached)), now and, with
    I(persist), from boot on.
  - Every change goes through C(iopass apply) on the managed host, pinned to the device's vendor
    and device IDs as they are when the task starts, so that it passes iopass's guards (a device
    the host uses, a group that would not be viable, a group a VM holds open), is journaled and is
    all or nothing. A refusal fails the task with iopass's message and changes nothing.
  - Check mode is C(iopass apply --check); diff mode shows each field (driver, boot) before and
    after.
author:
  - iopass maintainers
options:
  device:
    description:
      - A PCI address (C(0000:01:00.0) or C(01:00.0)), or C(group:N) for every endpoint of IOMMU
        group N.
    type: str
    required: true
  state:
    description:
      - C(attached) - on I(driver).
      - C(detached) - on no vfio driver; a device on one goes back to the driver iopass recorded
        when it attached it, else to the one the kernel's probe picks.
    type: str
    choices: [attached, detached]
    default: attached
  persist:
    description:
      - C(true) - also from boot on (iopass's udev rule and softdep, as C(iopass attach --persist));
        only with I(state=attached) and I(driver=vfio-pci).
      - C(false) - not in the boot configuration; a device there is taken out.
    type: bool
    default: false
  driver:
    description:
      - The vfio driver for I(state=attached), C(vfio-pci) or a variant driver such as
        C(mlx5_vfio_pci).
    type: str
    default: vfio-pci
extends_documentation_fragment:
  - iopass.vfio.iopass
  - iopass.vfio.iopass.write
seealso:
  - module: iopass.vfio.apply
  - module: iopass.vfio.vf
'''

EXAMPLES = r'''
- name: The GPU and its audio function on vfio-pci, from boot on
  iopass.vfio.device:
    device: group:1
    persist: true
  become: true

- name: A ConnectX VF on its variant driver, for live migration
  iopass.vfio.device:
    device: 0000:03:00.2
    driver: mlx5_vfio_pci

- name: The NIC back to the host
  iopass.vfio.device:
    device: 0000:03:00.0
    state: detached
'''

RETURN = r'''
changed:
  description: Whether iopass changed a driver or the boot configuration (in check mode, would).
  returned: always
  type: bool
desired:
  description: The desired-state lines given to C(iopass apply).
  returned: always
  type: list
  elements: str
  sample: ["0000:01:00.0 10de:1b80 vfio-pci boot"]
devices:
  description: The addresses the task is about.
  returned: always
  type: list
  elements: str
iopass:
  description: The JSON document of C(iopass apply -J), schema 1 (iopass(8), APPLY JSON OUTPUT).
  returned: when iopass printed one
  type: dict
exit_status:
  description:
    - iopass's exit status, 0 unchanged, 4 changed, 3 refused, 1 failed, 2 usage error; not
      C(rc), which Ansible reads as failed when it is not 0.
  returned: always
  type: int
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.iopass.vfio.plugins.module_utils.iopass import (
    COMMON_ARGS, GROUP_RE, Iopass, check_address, check_driver, desired_line, device_ids,
    run_apply)


def main():
    argument_spec = dict(
        device=dict(type='str', required=True),
        state=dict(type='str', choices=['attached', 'detached'], default='attached'),
        persist=dict(type='bool', default=False),
        driver=dict(type='str', default='vfio-pci'),
    )
    argument_spec.update(COMMON_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    if not GROUP_RE.match(p['device']):
        check_address(module, 'device', p['device'])
    check_driver(module, 'driver', p['driver'])
    if p['persist'] and p['state'] != 'attached':
        module.fail_json(msg='persist=true keeps a device on vfio-pci from boot on: it needs '
                             'state=attached')
    if p['persist'] and p['driver'] != 'vfio-pci':
        module.fail_json(msg='persist=true holds vfio-pci from boot on, not %s: use driver=vfio-pci '
                             'or persist=false' % p['driver'])

    ipa = Iopass(module)
    devs = ipa.devices(p['device'])
    driver = p['driver'] if p['state'] == 'attached' else 'host'
    lines = [desired_line(module, d['bdf'], device_ids(d), driver, boot=p['persist']) for d in devs]
    run_apply(module, ipa, lines=lines, extra=dict(devices=[d['bdf'] for d in devs]))


if __name__ == '__main__':
    main()

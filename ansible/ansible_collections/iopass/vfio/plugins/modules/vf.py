#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-2.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vf
short_description: SR-IOV virtual functions of a PCI physical function, with iopass
version_added: 0.1.0
description:
  - Makes an SR-IOV physical function have I(count) virtual functions (I(state=present)) or
    none (I(state=absent)), and with I(attach) puts its VFs on C(vfio-pci) or gives them back to
    the host.
  - Through C(iopass apply) on the managed host, pinned to the PF's vendor and device IDs. A
    different count removes the VFs there first (refused while a VM or the host uses one of them),
    then creates the new ones; with I(attach=true) they are created with
    C(sriov_drivers_autoprobe) off, so that no host driver takes them first, and attached, as
    C(iopass vf create --attach) does. A refusal fails the task with iopass's message.
  - The PF itself stays with (or goes back to) its host driver, which is what makes VFs.
author:
  - iopass maintainers
options:
  pf:
    description: The physical function's PCI address.
    type: str
    required: true
  count:
    description: The number of VFs, 1 to the PF's C(sriov_totalvfs); required with I(state=present).
    type: int
  attach:
    description:
      - C(true) - every VF of the PF on C(vfio-pci).
      - C(false) - every VF of the PF with its host driver.
      - Not given - the VFs' drivers as the kernel gives them when they are made, and as they are
        afterwards.
    type: bool
  state:
    description: C(present) - I(count) VFs; C(absent) - none.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - iopass.vfio.iopass
  - iopass.vfio.iopass.write
seealso:
  - module: iopass.vfio.device
  - module: iopass.vfio.apply
'''

EXAMPLES = r'''
- name: Eight VFs of the first ConnectX port on vfio-pci
  iopass.vfio.vf:
    pf: 0000:03:00.0
    count: 8
    attach: true
  become: true

- name: No VFs
  iopass.vfio.vf:
    pf: 0000:03:00.0
    state: absent
'''

RETURN = r'''
changed:
  description: Whether the VF count or a VF's driver changed (in check mode, would).
  returned: always
  type: bool
desired:
  description: The desired-state line given to C(iopass apply).
  returned: always
  type: list
  elements: str
  sample: ["0000:03:00.0 15b3:1017 host vfs=8 vf-driver=vfio-pci"]
iopass:
  description: The JSON document of C(iopass apply -J), schema 1.
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
    COMMON_ARGS, Iopass, check_address, desired_line, device_ids, run_apply)


def main():
    argument_spec = dict(
        pf=dict(type='str', required=True),
        count=dict(type='int'),
        attach=dict(type='bool'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    )
    argument_spec.update(COMMON_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[('state', 'present', ('count',))])
    p = module.params
    check_address(module, 'pf', p['pf'])
    if p['state'] == 'present' and p['count'] < 1:
        module.fail_json(msg='count=%d: a PF with VFs has 1 or more; use state=absent for none'
                             % p['count'])
    if p['state'] == 'absent' and p['attach'] is not None:
        module.fail_json(msg='attach says where VFs go: not with state=absent')

    ipa = Iopass(module)
    pf = ipa.devices(p['pf'])[0]
    count = p['count'] if p['state'] == 'present' else 0
    vf_driver = None if p['attach'] is None else 'vfio-pci' if p['attach'] else 'host'
    line = desired_line(module, pf['bdf'], device_ids(pf), 'host', vfs=count, vf_driver=vf_driver)
    run_apply(module, ipa, lines=[line])


if __name__ == '__main__':
    main()

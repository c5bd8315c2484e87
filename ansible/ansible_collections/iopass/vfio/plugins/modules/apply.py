#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-2.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: apply
short_description: Make a host match a desired state of PCI passthrough, with iopass apply
version_added: 0.1.0
description:
  - Runs C(iopass apply) on the managed host with a desired state given as I(entries), as
    I(content) (the file's text) or as I(src) (a file on the managed host), saying which driver each
    device is on, how many SR-IOV VFs each PF has and where they go, what holds from boot on.
  - One writing run on the host. Every line is resolved to its device (an entry for a device that is
    absent, or another card at its address, fails the task), every guard passed before the first
    write, a failed step undone. Devices no entry names are left alone. A second run changes
    nothing.
  - Check mode is C(iopass apply --check); diff mode shows each field (driver, vfs, boot) before
    and after.
author:
  - iopass maintainers
options:
  entries:
    description: The desired state, one entry per device (a line of iopass(8)'s DESIRED STATE FILE).
    type: list
    elements: dict
    suboptions:
      address:
        description: The device's PCI address, or C(*) to select it by I(ids) (with I(nth) or I(pf)).
        type: str
        default: '*'
      ids:
        description: C(VVVV:DDDD), or C(VVVV:DDDD/SSSS:SSSS) with the subsystem IDs.
        type: str
        required: true
      driver:
        description: C(vfio-pci), a vfio variant driver, or C(host).
        type: str
        required: true
      boot:
        description: Hold the device on C(vfio-pci) from boot on.
        type: bool
        default: false
      optional:
        description: The device may be absent (another card at the address is still refused).
        type: bool
        default: false
      vfs:
        description: The PF's number of VFs (0 removes them); the entry's driver must be C(host).
        type: int
      vf_driver:
        description: Where the PF's VFs go, C(vfio-pci), a variant or C(host); needs I(vfs).
        type: str
      nth:
        description: With C(*), the nth device with the IDs, in address order.
        type: int
      pf:
        description: With C(*), a VF of this PF.
        type: str
  content:
    description: The desired state as the text of a file.
    type: str
  src:
    description: A desired-state file on the managed host.
    type: path
notes:
  - Without I(entries), I(content) or I(src), the host's C(/etc/iopass/desired) is applied.
extends_documentation_fragment:
  - iopass.vfio.iopass
  - iopass.vfio.iopass.write
seealso:
  - module: iopass.vfio.device
  - module: iopass.vfio.vf
  - module: iopass.vfio.facts
'''

EXAMPLES = r'''
- name: The GPU on vfio-pci from boot on, four VFs of the NIC on vfio-pci
  iopass.vfio.apply:
    entries:
      - { address: 0000:01:00.0, ids: 10de:1b80, driver: vfio-pci, boot: true }
      - { address: 0000:01:00.1, ids: 10de:10f0, driver: vfio-pci, boot: true }
      - { ids: 15b3:1017, driver: host, vfs: 4, vf_driver: vfio-pci }
  become: true

- name: The desired state kept with the host's configuration
  iopass.vfio.apply:
    content: "{{ lookup('template', 'desired.j2') }}"
'''

RETURN = r'''
changed:
  description: Whether iopass changed something (in check mode, would).
  returned: always
  type: bool
desired:
  description: The desired-state lines given to C(iopass apply) (I(entries) or I(content)).
  returned: when entries or content were given
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
    COMMON_ARGS, Iopass, desired_line, run_apply)

ENTRY = dict(
    address=dict(type='str', default='*'),
    ids=dict(type='str', required=True),
    driver=dict(type='str', required=True),
    boot=dict(type='bool', default=False),
    optional=dict(type='bool', default=False),
    vfs=dict(type='int'),
    vf_driver=dict(type='str'),
    nth=dict(type='int'),
    pf=dict(type='str'),
)


def main():
    argument_spec = dict(
        entries=dict(type='list', elements='dict', options=ENTRY),
        content=dict(type='str'),
        src=dict(type='path'),
    )
    argument_spec.update(COMMON_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[('entries', 'content', 'src')])
    p = module.params
    ipa = Iopass(module)
    if p['entries'] is not None:
        # iopass's parser checks every field: a bad one fails the task with its line
        lines = [desired_line(module, e['address'], e['ids'], e['driver'], boot=e['boot'],
                              optional=e['optional'], vfs=e['vfs'], vf_driver=e['vf_driver'],
                              nth=e['nth'], pf=e['pf']) for e in p['entries']]
        run_apply(module, ipa, lines=lines)
    elif p['content'] is not None:
        # lines as iopass reads them: at '\n' only (splitlines() also breaks at U+2028, \x1c ...)
        run_apply(module, ipa, lines=p['content'].split('\n'))
    else:
        run_apply(module, ipa, path=p['src'])


if __name__ == '__main__':
    main()

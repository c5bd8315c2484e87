#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-2.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: facts
short_description: PCI devices, IOMMU groups and VFIO readiness as facts, from iopass
version_added: 0.1.0
description:
  - Reads C(iopass list -J) and C(iopass check --all -J) on the managed host and returns them as
    facts. Reads only; needs root for the whole of C(check) (config space past 64 bytes).
author:
  - iopass maintainers
options:
  gather:
    description: What to read, C(devices) (C(list -J)) and C(check) (C(check --all -J)).
    type: list
    elements: str
    choices: [devices, check]
    default: [devices, check]
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
extends_documentation_fragment:
  - iopass.vfio.iopass
seealso:
  - module: iopass.vfio.apply
'''

EXAMPLES = r'''
- name: What the host has
  iopass.vfio.facts:

- name: Every GPU's IOMMU group
  ansible.builtin.debug:
    msg: "{{ ansible_facts.iopass_devices | selectattr('classid', 'match', '03') | map(attribute='group') }}"
'''

RETURN = r'''
ansible_facts:
  description: The facts.
  returned: always
  type: complex
  contains:
    iopass_devices:
      description: The devices of C(iopass list -J) (iopass(8), JSON OUTPUT).
      returned: with devices in I(gather)
      type: list
      elements: dict
    iopass_check:
      description: The document of C(iopass check --all -J) (iopass(8), CHECK JSON OUTPUT).
      returned: with check in I(gather)
      type: dict
    iopass_ready:
      description: Whether the host is ready for VFIO (C(check)'s host verdict).
      returned: with check in I(gather)
      type: bool
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.iopass.vfio.plugins.module_utils.iopass import Iopass


def main():
    module = AnsibleModule(argument_spec=dict(
        gather=dict(type='list', elements='str', choices=['devices', 'check'],
                    default=['devices', 'check']),
        sysroot=dict(type='path'),
        executable=dict(type='path'),
    ), supports_check_mode=True)
    ipa = Iopass(module)
    facts = {}
    if 'devices' in module.params['gather']:
        facts['iopass_devices'] = ipa.json(['list', '-J']).get('devices', [])
    if 'check' in module.params['gather']:
        doc = ipa.json(['check', '--all', '-J'])
        facts['iopass_check'] = doc
        facts['iopass_ready'] = bool(doc.get('host', {}).get('ready'))
    module.exit_json(changed=False, ansible_facts=facts)


if __name__ == '__main__':
    main()

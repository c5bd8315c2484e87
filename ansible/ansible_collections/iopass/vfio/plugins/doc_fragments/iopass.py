# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-2.0-or-later
"""The options every iopass.vfio module shares (DOCUMENTATION), and those of the writing ones."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r'''
options:
  sysroot:
    description:
      - Act below this directory instead of C(/) (C(iopass --sysroot)), for a copy or model of a
        host's sysfs.
    type: path
  executable:
    description:
      - The iopass binary; by default C(iopass) on the PATH or in C(/usr/local/sbin), C(/usr/sbin).
    type: path
requirements:
  - iopass 0.1 or later on the managed host.
'''

    WRITE = r'''
options:
  force:
    description:
      - Override what iopass's guards refuse and C(--force) overrides (C(iopass apply --force)).
    type: bool
    default: false
  wait:
    description:
      - Seconds to wait for another iopass run to finish (C(iopass apply --wait)).
    type: int
    default: 30
notes:
  - Changes need root on the managed host (C(become)).
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
'''

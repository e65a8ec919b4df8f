# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: torch_build
short_description: Choose the PyTorch build (CPU or CUDA variant) for a host
version_added: 0.1.0
description:
  - Maps the CUDA version that a host's NVIDIA driver supports to the newest PyTorch CUDA build that is not newer
    than it, using a table of the builds published for the pinned torch release.
  - Returns the pip requirement (with its local version label, for example C(torch==2.13.0+cu130)), the package
    index that serves that build and the label that C(torch.__version__) carries once the build is installed.
  - A host without a usable GPU (the input is empty or V(None)) gets the CPU build.
  - The filter is pure; it reads nothing from the host and never contacts an index.
positional: table, variant, torch_version, index_url_template
options:
  _input:
    description:
      - The CUDA version the driver supports, as C(MAJOR.MINOR) (gpu_probe's C(cuda_driver_version)).
      - V(None) or an empty string means no usable GPU; variant V(auto) then picks the CPU build.
    type: raw
    required: true
  table:
    description:
      - The CUDA builds published for O(torch_version), each a dictionary with C(tag) (C(cuNNN)) and C(cuda)
        (C(MAJOR.MINOR)). Order does not matter.
    type: list
    elements: dict
    required: true
  variant:
    description:
      - V(auto) chooses from O(table) by the driver's CUDA version, V(cpu) forces the CPU build and C(cuNNN)
        forces that CUDA build whatever the driver reports.
    type: str
    default: auto
  torch_version:
    description:
      - The torch release to install, without a local label (C(2.13.0), not C(2.13.0+cpu)).
    type: str
    default: 2.13.0
  index_url_template:
    description:
      - Package index for a build, with C({tag}) standing for the variant (C(cpu), C(cu130)).
      - An empty string returns an empty C(index_url), for hosts that take torch from a mirror or wheelhouse.
    type: str
    default: https://download.pytorch.org/whl/{tag}
"""

EXAMPLES = r"""
- name: Choose the torch build from the probe's facts
  ansible.builtin.set_fact:
    torch_choice: >-
      {{ (ansible_facts.gpu_probe.cuda_driver_version if ansible_facts.gpu_probe.cuda_active else None)
         | mt5crs.gpu_orchestrator.torch_build(gpu_env_torch_cuda_builds, 'auto', '2.13.0') }}

# '12.8' | mt5crs.gpu_orchestrator.torch_build([{'tag': 'cu130', 'cuda': '13.0'}, {'tag': 'cu126', 'cuda': '12.6'}])
# -> variant cu126, requirement torch==2.13.0+cu126, index_url https://download.pytorch.org/whl/cu126
"""

RETURN = r"""
_value:
  description: The chosen build.
  type: dict
  contains:
    variant:
      description: C(cpu) or C(cuNNN).
      type: str
    cuda:
      description: CUDA version of the chosen build (C(MAJOR.MINOR)); empty for the CPU build.
      type: str
    version:
      description: The full torch version with its local label, as C(torch.__version__) reports it.
      type: str
    requirement:
      description: The exact pip requirement, C(torch==<version>).
      type: str
    local_label:
      description: The local version label the installed torch must carry (same as C(variant)).
      type: str
    index_url:
      description: Package index for the build, empty when O(index_url_template) is empty.
      type: str
    reason:
      description: One sentence saying why this build was chosen.
      type: str
"""

import re

from ansible.errors import AnsibleFilterError

CUDA_TAG_RE = re.compile(r'^cu(\d{3,4})$')
CUDA_VERSION_RE = re.compile(r'^(\d+)\.(\d+)(?:\.\d+)*$')
TORCH_VERSION_RE = re.compile(r'^\d+(?:\.\d+){1,3}(?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?$')


def _cuda_tuple(value, what):
    """'12.8' or '12.8.1' -> (12, 8); anything else raises with the expected format."""
    text = str(value).strip()
    match = CUDA_VERSION_RE.match(text)
    if not match:
        raise AnsibleFilterError(
            'torch_build: %s is not a CUDA version: %r; expected MAJOR.MINOR such as "12.8"' % (what, value))
    return int(match.group(1)), int(match.group(2))


def _parse_table(table):
    """Validate the build table; return [((major, minor), tag, cuda_text)] newest first."""
    if not isinstance(table, (list, tuple)) or not table:
        raise AnsibleFilterError('torch_build: the CUDA build table is empty or not a list: %r; '
                                 'expected a list of {tag: cuNNN, cuda: "MAJOR.MINOR"}' % (table,))
    builds = []
    for entry in table:
        if not isinstance(entry, dict) or 'tag' not in entry or 'cuda' not in entry:
            raise AnsibleFilterError('torch_build: CUDA build table entry is malformed: %r; '
                                     'expected {tag: cuNNN, cuda: "MAJOR.MINOR"}' % (entry,))
        tag = str(entry['tag']).strip()
        if not CUDA_TAG_RE.match(tag):
            raise AnsibleFilterError('torch_build: CUDA build tag is malformed: %r; expected cuNNN such as cu130' % tag)
        cuda = _cuda_tuple(entry['cuda'], 'the cuda of table entry %s' % tag)
        builds.append((cuda, tag, '%d.%d' % cuda))
    builds.sort(reverse=True)
    return builds


def _pick_auto(cuda_driver_version, builds):
    """The newest build whose CUDA version is not newer than the driver's."""
    if cuda_driver_version is None or str(cuda_driver_version).strip() == '':
        return 'cpu', '', 'no usable GPU was found, so the CPU build is installed'

    driver = _cuda_tuple(cuda_driver_version, 'cuda_driver_version')
    for cuda, tag, cuda_text in builds:
        if cuda <= driver:
            return tag, cuda_text, ('the driver supports CUDA %d.%d; %s is the newest build not newer than that'
                                    % (driver + (tag,)))

    oldest_cuda, oldest_tag, oldest_text = builds[-1]
    raise AnsibleFilterError(
        'torch_build: the driver supports CUDA %d.%d, older than the oldest build in the table (%s needs CUDA %s); '
        'upgrade the NVIDIA driver, add an older build to the table, or choose the variant explicitly'
        % (driver + (oldest_tag, oldest_text)))


def torch_build(cuda_driver_version, table, variant='auto', torch_version='2.13.0',
                index_url_template='https://download.pytorch.org/whl/{tag}'):
    """Return the PyTorch build for a host; see DOCUMENTATION."""
    torch_version = str(torch_version).strip()
    if '+' in torch_version:
        raise AnsibleFilterError('torch_build: torch_version carries a local label: %r; give the release only '
                                 '(such as "2.13.0"), the label comes from the variant' % torch_version)
    if not TORCH_VERSION_RE.match(torch_version):
        raise AnsibleFilterError('torch_build: torch_version is not a release version: %r; '
                                 'expected digits and dots such as "2.13.0"' % torch_version)

    builds = _parse_table(table)
    variant = str(variant or 'auto').strip().lower()
    if variant == 'auto':
        tag, cuda_text, reason = _pick_auto(cuda_driver_version, builds)
    elif variant == 'cpu':
        tag, cuda_text, reason = 'cpu', '', 'the CPU build was requested explicitly'
    elif CUDA_TAG_RE.match(variant):
        known = dict((entry_tag, text) for dummy, entry_tag, text in builds)
        digits = CUDA_TAG_RE.match(variant).group(1)
        tag = variant
        cuda_text = known.get(variant, '%s.%s' % (digits[:-1], digits[-1]))
        reason = '%s was requested explicitly' % variant
    else:
        raise AnsibleFilterError('torch_build: variant is not recognised: %r; expected auto, cpu or cuNNN '
                                 '(such as cu130)' % variant)

    index_url = ''
    if index_url_template:
        try:
            index_url = str(index_url_template).format(tag=tag)
        except (KeyError, IndexError, ValueError) as exc:
            raise AnsibleFilterError('torch_build: index_url_template cannot be formatted: %r (%s); '
                                     'expected a URL with {tag} as its only placeholder' % (index_url_template, exc))

    version = '%s+%s' % (torch_version, tag)
    return {
        'variant': tag,
        'cuda': cuda_text,
        'version': version,
        'requirement': 'torch==%s' % version,
        'local_label': tag,
        'index_url': index_url,
        'reason': reason,
    }


class FilterModule(object):

    def filters(self):
        return {'torch_build': torch_build}

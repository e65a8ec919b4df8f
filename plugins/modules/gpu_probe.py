#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gpu_probe
short_description: Report a host's NVIDIA driver, CUDA level, GPUs, PyTorch build, free space and endpoints
version_added: 0.1.0
description:
  - Reads the NVIDIA driver version, the highest CUDA version the driver supports and every physical GPU
    (memory, utilization, temperature, power, persistence, compute capability, ECC, MIG devices, PCIe link)
    and says in RV(state) and RV(reason) why CUDA cannot be used when it cannot.
  - Uses NVML through nvidia-ml-py (C(pynvml)) when that imports and O(nvidia_smi) is not set; otherwise runs
    C(nvidia-smi) at most twice with C(LC_ALL=C), once for its XML report and once for C(--query-gpu).
  - Optionally runs a given Python interpreter to report its PyTorch build, measures free space of paths,
    times TCP connections to endpoints, and fails listing every unmet requirement at once.
  - Needs only Python's standard library on the target. It changes nothing, so it runs fully in check mode.
  - Every returned key is also set as the fact C(gpu_probe) (C(ansible_facts.gpu_probe)).
author:
  - mt5crs.gpu_orchestrator contributors (@mt5crs)
attributes:
  check_mode:
    description: Can run in check mode and report whether it would change something, without changing it.
    support: full
    details:
      - The module only reads; it runs the same way in check mode.
  diff_mode:
    description: Reports the change as a diff when run with C(--diff).
    support: none
  facts:
    description: Returns an C(ansible_facts) dictionary that updates the host facts.
    support: full
    details:
      - Sets C(ansible_facts.gpu_probe) to the returned dictionary.
options:
  nvidia_smi:
    description:
      - Path or name of the C(nvidia-smi) binary to run.
      - When set, this binary is used even where the NVML bindings are importable.
      - When not set, NVML is used if C(pynvml) imports and the NVML library loads; otherwise C(nvidia-smi) is
        looked up on E(PATH) and in the usual driver directories.
    type: str
  python:
    description:
      - Python interpreter to inspect for PyTorch, usually a venv's C(bin/python).
      - The interpreter runs in a subprocess limited by O(timeout); a missing interpreter or a missing torch
        is reported in the C(error) key of RV(torch), not raised.
      - When not set, no PyTorch check runs and RV(torch) is not returned.
    type: path
  paths:
    description:
      - Paths whose filesystems' free and total bytes are reported in RV(paths).
      - A path that does not exist yet is measured at its nearest existing parent.
    type: list
    elements: path
    default: []
  endpoints:
    description:
      - TCP endpoints to test, each as C(host:port), C([ipv6]:port) or a URL such as C(https://host:9000).
      - A URL without a port uses 80 for C(http) and 443 for C(https).
    type: list
    elements: str
    default: []
  timeout:
    description:
      - Seconds each C(nvidia-smi) run and the PyTorch check may take before they are stopped.
    type: int
    default: 30
  connect_timeout:
    description:
      - Seconds a TCP connection to one of O(endpoints) may take.
    type: float
    default: 5
  require:
    description:
      - Requirements the host must meet. When any is unmet the module fails and lists all unmet ones, each
        with what was found and what is required. The facts are still returned with the failure.
    type: dict
    default: {}
    suboptions:
      cuda:
        description:
          - Require a working NVIDIA driver that sees at least one GPU (RV(cuda_active)).
        type: bool
        default: false
      min_gpus:
        description:
          - Smallest number of physical GPUs (MIG devices are not counted).
        type: int
      min_memory_mib:
        description:
          - Smallest total memory in MiB that every GPU must have.
        type: int
      min_driver:
        description:
          - Lowest driver version accepted, for example C(535.54).
        type: str
      min_cuda:
        description:
          - Lowest CUDA version the driver must support, for example C(12.1).
        type: str
      min_free_gb:
        description:
          - Free space in GiB (1024^3 bytes) each path must have.
          - A number applies to every path in O(paths); a dictionary maps paths to their own minimum, and
            those paths are measured even when O(paths) does not list them.
        type: raw
      endpoints:
        description:
          - Require every endpoint in O(endpoints) to accept a TCP connection.
        type: bool
        default: false
      torch_cuda:
        description:
          - Require PyTorch in O(python) to report C(torch.cuda.is_available()) as true.
          - Needs O(python).
        type: bool
        default: false
notes:
  - nvidia-smi's XML report does not name MIG profiles or MIG device UUIDs, so with nvidia-smi those are
    null; NVML names both.
  - Compute capability comes from C(--query-gpu=compute_cap). Drivers that do not know that field make the
    query fail; the module then keeps the XML data, warns, and reports the compute capability as null.
  - "C(gpu_count) counts the C(<gpu>) elements of the XML report (or NVML devices), not the header's
    C(attached_gpus) and not the lines of C(nvidia-smi -L), which lists MIG devices as extra lines."
  - Endpoint checks open a TCP connection and close it; nothing is sent.
seealso:
  - name: nvidia-smi documentation
    description: NVIDIA's description of the query fields and of the XML report.
    link: https://docs.nvidia.com/deploy/nvidia-smi/index.html
"""

EXAMPLES = r"""
- name: Probe the GPU host
  mt5crs.gpu_orchestrator.gpu_probe:
  register: probe

- name: Show the driver and the GPUs
  ansible.builtin.debug:
    msg: "{{ gpu_probe.driver_version }}: {{ gpu_probe.gpus | map(attribute='name') | list }}"

- name: Stop unless the host can train
  mt5crs.gpu_orchestrator.gpu_probe:
    python: /opt/mt5crs/venv/bin/python
    paths:
      - /srv/mt5crs/data
    endpoints:
      - minio.example.com:9000
    require:
      cuda: true
      min_gpus: 1
      min_memory_mib: 16000
      min_driver: "535"
      min_cuda: "12.1"
      min_free_gb:
        /srv/mt5crs/data: 50
      endpoints: true
      torch_cuda: true

- name: Use a specific nvidia-smi even where nvidia-ml-py is installed
  mt5crs.gpu_orchestrator.gpu_probe:
    nvidia_smi: /usr/bin/nvidia-smi
    timeout: 10
"""

RETURN = r"""
cuda_active:
  description: True when the driver works and sees at least one GPU.
  returned: always
  type: bool
  sample: true
state:
  description:
    - C(ok), C(no_nvidia_smi), C(driver_not_loaded), C(version_mismatch), C(no_devices), C(permission_denied)
      or C(error).
  returned: always
  type: str
  sample: ok
reason:
  description: A sentence for a person saying what the state means and what to do, with nvidia-smi's own words.
  returned: always
  type: str
  sample: "driver 590.48.01 (CUDA 13.1) sees 1 GPU: NVIDIA H100 80GB HBM3"
source:
  description: Where the GPU data came from, C(nvml) or C(nvidia-smi); null when neither answered.
  returned: always
  type: str
  sample: nvidia-smi
nvidia_smi:
  description: Path of the nvidia-smi binary that was run; null when NVML answered or none was found.
  returned: always
  type: str
  sample: /usr/bin/nvidia-smi
driver_version:
  description: NVIDIA driver version; null when unknown.
  returned: always
  type: str
  sample: 590.48.01
cuda_driver_version:
  description: Highest CUDA version the driver supports; null when unknown.
  returned: always
  type: str
  sample: "13.1"
gpu_count:
  description: Number of physical GPUs; a MIG-enabled GPU counts once.
  returned: always
  type: int
  sample: 1
gpus:
  description: One entry per physical GPU. A value the GPU does not report is null.
  returned: always
  type: list
  elements: dict
  contains:
    index: {description: nvidia-smi index., type: int, returned: always, sample: 0}
    uuid: {description: GPU UUID., type: str, returned: always, sample: GPU-513536b6-7d19-9063-b049-1e69664bb298}
    name: {description: Product name., type: str, returned: always, sample: NVIDIA H100 80GB HBM3}
    pci_bus_id: {description: PCI bus id., type: str, returned: always, sample: "00000000:01:00.0"}
    compute_capability: {description: CUDA compute capability., type: str, returned: always, sample: "9.0"}
    memory_total_mib: {description: Total memory in MiB., type: int, returned: always, sample: 81559}
    memory_used_mib: {description: Used memory in MiB., type: int, returned: always, sample: 19818}
    memory_free_mib: {description: Free memory in MiB., type: int, returned: always, sample: 61263}
    utilization_gpu_pct: {description: GPU utilization in percent., type: int, returned: always, sample: 100}
    temperature_c: {description: GPU temperature in degrees Celsius., type: int, returned: always, sample: 59}
    power_draw_w: {description: Power draw in watts., type: float, returned: always, sample: 631.95}
    power_limit_w: {description: Power limit in watts., type: float, returned: always, sample: 700.0}
    persistence_mode: {description: Persistence mode enabled., type: bool, returned: always, sample: true}
    ecc_mode: {description: ECC currently enabled., type: bool, returned: always, sample: true}
    ecc_errors_uncorrected_volatile:
      description: Uncorrected ECC errors since the driver loaded.
      type: int
      returned: always
      sample: 0
    ecc_errors_uncorrected_aggregate:
      description: Uncorrected ECC errors over the GPU's life.
      type: int
      returned: always
      sample: 0
    mig_mode: {description: MIG currently enabled., type: bool, returned: always, sample: false}
    mig_devices:
      description:
        - MIG devices of this GPU with C(index), C(uuid), C(profile), C(gpu_instance_id), C(compute_instance_id),
          C(multiprocessor_count), C(memory_total_mib), C(memory_used_mib) and C(memory_free_mib).
      type: list
      elements: dict
      returned: always
      sample: [{index: 0, profile: null, gpu_instance_id: 3, memory_total_mib: 19968}]
    pcie_gen_current:
      description: Current PCIe generation (idle cards drop to 1).
      type: int
      returned: always
      sample: 1
    pcie_gen_max: {description: Highest PCIe generation of the link., type: int, returned: always, sample: 4}
    pcie_width_current: {description: Current PCIe lane count., type: int, returned: always, sample: 16}
    pcie_width_max: {description: Highest PCIe lane count., type: int, returned: always, sample: 16}
python:
  description: The interpreter running the module, C(version) and C(executable).
  returned: always
  type: dict
  sample: {version: 3.11.7, executable: /usr/bin/python3}
torch:
  description:
    - PyTorch in O(python) with C(version), C(local_label) (C(cu121), C(cpu)), C(cuda) (C(torch.version.cuda)),
      C(cuda_available), C(device_count), C(devices), C(cudnn), C(python_version) and C(error) (why torch
      could not be inspected, else null).
  returned: when O(python) is set
  type: dict
  sample: {version: 2.13.0+cpu, local_label: cpu, cuda: null, cuda_available: false, device_count: 0,
           devices: [], cudnn: null, python_version: 3.11.7, error: null}
paths:
  description:
    - Per path C(exists), C(measured_path), C(free_bytes), C(total_bytes) and C(free_gb) (GiB).
  returned: always
  type: dict
  sample: {/srv/mt5crs/data: {exists: true, measured_path: /srv/mt5crs/data, free_bytes: 53687091200,
           total_bytes: 107374182400, free_gb: 50.0}}
endpoints:
  description: Per endpoint C(host), C(port), C(reachable), C(connect_ms) and C(error).
  returned: always
  type: dict
  sample: {"127.0.0.1:9000": {host: 127.0.0.1, port: 9000, reachable: true, connect_ms: 0.21, error: null}}
unmet:
  description: 'Unmet requirements, each as C(<requirement>: found <X>, required <Y>); empty when all are met.'
  returned: always
  type: list
  elements: str
  sample: ["min_gpus: found 1 GPU, required at least 2"]
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mt5crs.gpu_orchestrator.plugins.module_utils import _nvsmi
from ansible_collections.mt5crs.gpu_orchestrator.plugins.module_utils._process import run

DRIVER_DIRS = ['/usr/bin', '/usr/local/bin', '/usr/local/nvidia/bin', '/opt/nvidia/bin']
GIB = 1024 ** 3

TORCH_SCRIPT = r"""
import json, sys
out = {'python_version': sys.version.split()[0], 'version': None, 'local_label': None, 'cuda': None,
       'cuda_available': None, 'device_count': None, 'devices': [], 'cudnn': None, 'error': None}
try:
    import torch
except Exception as exc:
    out['error'] = 'import torch failed: %s: %s' % (type(exc).__name__, exc)
else:
    version = str(torch.__version__)
    out['version'] = version
    out['local_label'] = version.partition('+')[2] or None
    out['cuda'] = getattr(torch.version, 'cuda', None)
    try:
        out['cuda_available'] = bool(torch.cuda.is_available())
        out['device_count'] = int(torch.cuda.device_count()) if out['cuda_available'] else 0
        out['devices'] = [torch.cuda.get_device_name(i) for i in range(out['device_count'])]
    except Exception as exc:
        out['error'] = 'torch.cuda query failed: %s: %s' % (type(exc).__name__, exc)
    try:
        if torch.backends.cudnn.is_available():
            out['cudnn'] = torch.backends.cudnn.version()
    except Exception:
        out['cudnn'] = None
sys.stdout.write('\n' + json.dumps(out) + '\n')
"""


class ProbeError(Exception):
    """A configuration the module cannot run with; reported through fail_json."""


def gpu_summary(info):
    """Reason text of a host whose driver sees GPUs."""
    names = ', '.join(sorted(set(gpu['name'] or 'unnamed GPU' for gpu in info['gpus'])))
    count = len(info['gpus'])
    text = 'driver %s (CUDA %s) sees %d GPU%s: %s' % (info['driver_version'], info['cuda_driver_version'], count,
                                                      '' if count == 1 else 's', names)
    for gpu in info['gpus']:
        if gpu['mig_mode']:
            text += '; GPU %s runs MIG with %d device(s)' % (gpu['index'], len(gpu['mig_devices']))
    return text


def empty_gpu_info(state, reason, source=None, nvidia_smi=None):
    return {'state': state, 'reason': reason, 'source': source, 'nvidia_smi': nvidia_smi, 'driver_version': None,
            'cuda_driver_version': None, 'gpus': [], 'warnings': []}


def finish_gpu_info(parsed, source, nvidia_smi, warnings):
    info = empty_gpu_info(_nvsmi.STATE_OK, None, source, nvidia_smi)
    info.update(driver_version=parsed['driver_version'], cuda_driver_version=parsed['cuda_driver_version'],
                gpus=parsed['gpus'], warnings=warnings)
    if not info['gpus']:
        info['state'] = _nvsmi.STATE_NO_DEVICES
        info['reason'] = _nvsmi.reason_for(_nvsmi.STATE_NO_DEVICES, 'the report lists no GPU')
    else:
        info['reason'] = gpu_summary(info)
    return info


def probe_nvml():
    """GPU info through NVML, or None when the bindings or the NVML library are not available."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception as exc:
        code = _nvsmi.nvml_error_code(exc)
        if code == _nvsmi.NVML_LIBRARY_NOT_FOUND or code is None:
            return None
        state = _nvsmi.RC_STATES.get(code, _nvsmi.STATE_ERROR)
        return empty_gpu_info(state, _nvsmi.reason_for(state, 'NVML: %s' % exc), 'nvml')
    try:
        parsed = _nvsmi.read_nvml(pynvml)
    except Exception as exc:
        return empty_gpu_info(_nvsmi.STATE_ERROR, 'Failed to read GPUs through NVML: %s' % exc, 'nvml')
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass
    return finish_gpu_info(parsed, 'nvml', None, [])


def find_nvidia_smi(given):
    """Path of the nvidia-smi to run (PATH first, then the usual driver directories), or None."""
    if given and os.sep in given:
        return given if os.path.exists(given) else None
    search = os.pathsep.join([os.environ.get('PATH', '')] + DRIVER_DIRS)
    return shutil.which(given or 'nvidia-smi', path=search)


def probe_nvidia_smi(binary, timeout):
    """GPU info from at most two nvidia-smi runs: the XML report, then --query-gpu when the report worked."""
    try:
        rc, out, err = run([binary] + _nvsmi.XML_ARGS, timeout)
    except subprocess.TimeoutExpired:
        return empty_gpu_info(_nvsmi.STATE_ERROR, 'nvidia-smi did not answer within %d s: %s -q -x' % (timeout, binary),
                              'nvidia-smi', binary)
    except OSError as exc:
        state = _nvsmi.STATE_NO_NVIDIA_SMI if isinstance(exc, FileNotFoundError) else _nvsmi.STATE_ERROR
        return empty_gpu_info(state, 'Failed to run %s: %s' % (binary, exc.strerror or exc), 'nvidia-smi', binary)

    failure = _nvsmi.classify_failure(rc, out, err) if (rc != 0 or not out.lstrip().startswith('<')) else None
    if failure:
        state, detail = failure
        return empty_gpu_info(state, _nvsmi.reason_for(state, detail, rc), 'nvidia-smi', binary)
    try:
        parsed = _nvsmi.parse_xml(out)
    except _nvsmi.NvsmiError as exc:
        return empty_gpu_info(_nvsmi.STATE_ERROR, str(exc), 'nvidia-smi', binary)
    if not parsed['gpus']:
        return finish_gpu_info(parsed, 'nvidia-smi', binary, [])

    warnings = []
    try:
        rc, out, err = run([binary] + _nvsmi.QUERY_ARGS, timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        rc, out, err = None, '', str(exc)
    if rc == 0:
        try:
            rows, dummy = _nvsmi.parse_query_gpu(out, [field for field, key in _nvsmi.QUERY_FIELDS])
            parsed['gpus'] = _nvsmi.merge_gpus(parsed['gpus'], rows)
        except _nvsmi.NvsmiError as exc:
            warnings.append('%s; compute capability and index are taken from the XML report only' % exc)
    else:
        detail = ' '.join((out + ' ' + err).split())[:300]
        warnings.append('nvidia-smi --query-gpu failed (exit status %s: %s); compute capability is not reported'
                        % (rc, detail))
    return finish_gpu_info(parsed, 'nvidia-smi', binary, warnings)


def probe_gpus(nvidia_smi, timeout):
    if not nvidia_smi:
        info = probe_nvml()
        if info is not None:
            return info
    binary = find_nvidia_smi(nvidia_smi)
    if binary is None:
        where = 'at %s' % nvidia_smi if nvidia_smi else 'on PATH or in %s' % ', '.join(DRIVER_DIRS)
        return empty_gpu_info(_nvsmi.STATE_NO_NVIDIA_SMI,
                              '%s; nvidia-smi was not found %s' % (_nvsmi.REASONS[_nvsmi.STATE_NO_NVIDIA_SMI], where))
    return probe_nvidia_smi(binary, timeout)


def probe_torch(python, timeout):
    """PyTorch facts from the interpreter python, run in a subprocess; problems land in 'error'."""
    result = {'version': None, 'local_label': None, 'cuda': None, 'cuda_available': None, 'device_count': None,
              'devices': [], 'cudnn': None, 'python_version': None, 'error': None}
    try:
        rc, out, err = run([python, '-c', TORCH_SCRIPT], timeout)
    except subprocess.TimeoutExpired:
        result['error'] = 'PyTorch check did not finish within %d s: %s' % (timeout, python)
        return result
    except OSError as exc:
        result['error'] = 'Failed to run Python interpreter %s: %s' % (python, exc.strerror or exc)
        return result
    lines = [line for line in out.splitlines() if line.strip()]
    try:
        reported = json.loads(lines[-1])
    except (IndexError, ValueError):
        detail = ' '.join((err or out).split())[-400:]
        result['error'] = 'PyTorch check failed in %s (exit status %d): %s' % (python, rc, detail or 'no output')
        return result
    result.update(reported)
    return result


def probe_paths(paths):
    """Free and total bytes of each path's filesystem (nearest existing parent for a missing path)."""
    report = {}
    for path in paths:
        measured = os.path.abspath(path)
        while not os.path.exists(measured) and os.path.dirname(measured) != measured:
            measured = os.path.dirname(measured)
        entry = {'exists': os.path.exists(path), 'measured_path': measured, 'free_bytes': None, 'total_bytes': None,
                 'free_gb': None, 'error': None}
        try:
            stat = os.statvfs(measured)
        except OSError as exc:
            entry['error'] = 'Failed to measure %s: %s' % (measured, exc.strerror or exc)
        else:
            entry['free_bytes'] = stat.f_bavail * stat.f_frsize
            entry['total_bytes'] = stat.f_blocks * stat.f_frsize
            entry['free_gb'] = round(entry['free_bytes'] / float(GIB), 2)
        report[path] = entry
    return report


def split_endpoint(endpoint):
    """'host:port', '[v6]:port' or a URL -> (host, port). Raises ProbeError with the expected format."""
    text = endpoint.strip()
    if '://' in text:
        parts = urlsplit(text)
        try:
            port = parts.port or {'http': 80, 'https': 443}.get(parts.scheme)
        except ValueError:
            port = None
        if parts.hostname and port:
            return parts.hostname, port
    else:
        parts = urlsplit('//' + text)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.hostname and port:
            return parts.hostname, port
    raise ProbeError('Endpoint not understood: %r (expected host:port, [ipv6]:port or a URL with a host)' % endpoint)


def probe_endpoints(endpoints, timeout):
    report = {}
    for endpoint in endpoints:
        host, port = split_endpoint(endpoint)
        entry = {'host': host, 'port': port, 'reachable': False, 'connect_ms': None, 'error': None}
        started = time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=timeout):
                entry['connect_ms'] = round((time.monotonic() - started) * 1000.0, 2)
                entry['reachable'] = True
        except socket.timeout:
            entry['error'] = 'no answer within %s s' % timeout
        except OSError as exc:
            entry['error'] = exc.strerror or str(exc)
        report[endpoint] = entry
    return report


def free_space_minimums(require, paths):
    """{path: GiB} from require.min_free_gb (a number for every path, or a dict)."""
    value = require.get('min_free_gb')
    if value is None:
        return {}
    if isinstance(value, dict):
        items = value.items()
    else:
        items = ((path, value) for path in paths)
    minimums = {}
    for path, minimum in items:
        try:
            minimums[path] = float(minimum)
        except (TypeError, ValueError):
            raise ProbeError('require.min_free_gb for %s is not a number: %r (expected GiB as a number)'
                             % (path, minimum))
    return minimums


def _plural(count, word):
    return '%d %s%s' % (count, word, '' if count == 1 else 's')


def unmet_requirements(result, require):
    """Every unmet requirement as '<requirement>: found <X>, required <Y>'."""
    unmet = []
    gpus = result['gpus']
    if require.get('cuda') and not result['cuda_active']:
        unmet.append('cuda: found no usable NVIDIA GPU (state %s: %s), required a loaded NVIDIA driver that sees at '
                     'least one GPU' % (result['state'], result['reason']))
    if require.get('min_gpus') is not None and result['gpu_count'] < require['min_gpus']:
        unmet.append('min_gpus: found %s, required at least %d' % (_plural(result['gpu_count'], 'GPU'),
                                                                   require['min_gpus']))
    if require.get('min_memory_mib') is not None:
        if not gpus:
            unmet.append('min_memory_mib: found no GPU, required %d MiB per GPU' % require['min_memory_mib'])
        for gpu in gpus:
            total = gpu['memory_total_mib']
            if total is None or total < require['min_memory_mib']:
                unmet.append('min_memory_mib: found %s MiB on GPU %s (%s), required at least %d MiB'
                             % ('unknown' if total is None else total, gpu['index'], gpu['name'],
                                require['min_memory_mib']))
    for key, found in (('min_driver', result['driver_version']), ('min_cuda', result['cuda_driver_version'])):
        wanted = require.get(key)
        if not wanted:
            continue
        label = 'driver' if key == 'min_driver' else 'CUDA'
        have, need = _nvsmi.version_tuple(found), _nvsmi.version_tuple(wanted)
        if need is None:
            raise ProbeError('require.%s is not a version: %r (expected numbers joined by dots, e.g. 535.54)'
                             % (key, wanted))
        if have is None or have < need:
            found = '%s %s' % (label, found) if found else 'no %s version (state %s)' % (label, result['state'])
            unmet.append('%s: found %s, required at least %s' % (key, found, wanted))
    for path, minimum in sorted(free_space_minimums(require, list(result['paths'])).items()):
        entry = result['paths'].get(path, {})
        free = entry.get('free_gb')
        if free is None or free < minimum:
            unmet.append('min_free_gb: found %s GiB free for %s, required at least %g GiB'
                         % ('unknown' if free is None else free, path, minimum))
    if require.get('endpoints'):
        for endpoint, entry in sorted(result['endpoints'].items()):
            if not entry['reachable']:
                unmet.append('endpoints: found %s unreachable (%s), required reachable' % (endpoint, entry['error']))
    if require.get('torch_cuda'):
        torch = result.get('torch') or {}
        if not torch.get('cuda_available'):
            found = torch.get('error') or 'torch %s (CUDA build %s) with CUDA unavailable' % (
                torch.get('version'), torch.get('cuda'))
            unmet.append('torch_cuda: found %s, required torch.cuda.is_available() to be true' % found)
    return unmet


def build_module():
    require_spec = {
        'cuda': {'type': 'bool', 'default': False},
        'min_gpus': {'type': 'int'},
        'min_memory_mib': {'type': 'int'},
        'min_driver': {'type': 'str'},
        'min_cuda': {'type': 'str'},
        'min_free_gb': {'type': 'raw'},
        'endpoints': {'type': 'bool', 'default': False},
        'torch_cuda': {'type': 'bool', 'default': False},
    }
    return AnsibleModule(
        argument_spec={
            'nvidia_smi': {'type': 'str'},
            'python': {'type': 'path'},
            'paths': {'type': 'list', 'elements': 'path', 'default': []},
            'endpoints': {'type': 'list', 'elements': 'str', 'default': []},
            'timeout': {'type': 'int', 'default': 30},
            'connect_timeout': {'type': 'float', 'default': 5},
            'require': {'type': 'dict', 'default': {}, 'options': require_spec},
        },
        supports_check_mode=True,
    )


def probe(params, warn):
    """The full result dictionary (without changed/facts) for the given parameters; warn(text) gets warnings."""
    require = params['require'] or {}
    if require.get('torch_cuda') and not params['python']:
        raise ProbeError('require.torch_cuda needs the python option: no interpreter given to check PyTorch in')

    paths = list(params['paths'])
    if isinstance(require.get('min_free_gb'), dict):
        paths += [path for path in require['min_free_gb'] if path not in paths]
    free_space_minimums(require, paths)

    # GPUs, driver and CUDA level
    info = probe_gpus(params['nvidia_smi'], params['timeout'])
    for warning in info.pop('warnings'):
        warn(warning)
    result = {
        'cuda_active': info['state'] == _nvsmi.STATE_OK and bool(info['gpus']),
        'gpu_count': len(info['gpus']),
        'python': {'version': '%d.%d.%d' % sys.version_info[:3], 'executable': sys.executable},
    }
    result.update(info)

    # PyTorch, space and endpoints
    if params['python']:
        result['torch'] = probe_torch(params['python'], params['timeout'])
    result['paths'] = probe_paths(paths)
    result['endpoints'] = probe_endpoints(params['endpoints'], params['connect_timeout'])
    result['unmet'] = unmet_requirements(result, require)
    return result


def main():
    module = build_module()
    try:
        result = probe(module.params, module.warn)
    except ProbeError as exc:
        module.fail_json(msg=str(exc), changed=False)

    if result['unmet']:
        module.fail_json(msg='Host does not meet the GPU requirements: %s' % '; '.join(result['unmet']),
                         changed=False, **result)
    module.exit_json(changed=False, ansible_facts={'gpu_probe': result}, **result)


if __name__ == '__main__':
    main()

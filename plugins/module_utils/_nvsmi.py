# -*- coding: utf-8 -*-
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading NVIDIA GPU state from nvidia-smi output or from NVML.

This file is private to the mt5crs.gpu_orchestrator collection: its names may change without
notice. It uses only Python's standard library so that it runs on any target interpreter.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

STATE_OK = 'ok'
STATE_NO_NVIDIA_SMI = 'no_nvidia_smi'
STATE_DRIVER_NOT_LOADED = 'driver_not_loaded'
STATE_VERSION_MISMATCH = 'version_mismatch'
STATE_NO_DEVICES = 'no_devices'
STATE_PERMISSION_DENIED = 'permission_denied'
STATE_ERROR = 'error'

STATES = (STATE_OK, STATE_NO_NVIDIA_SMI, STATE_DRIVER_NOT_LOADED, STATE_VERSION_MISMATCH, STATE_NO_DEVICES,
          STATE_PERMISSION_DENIED, STATE_ERROR)

XML_ARGS = ['-q', '-x']

# Fields asked from `nvidia-smi --query-gpu`, in this order, each with the key it fills in a GPU record.
QUERY_FIELDS = (
    ('index', 'index'),
    ('uuid', 'uuid'),
    ('pci.bus_id', 'pci_bus_id'),
    ('name', 'name'),
    ('compute_cap', 'compute_capability'),
    ('memory.total', 'memory_total_mib'),
    ('memory.used', 'memory_used_mib'),
    ('memory.free', 'memory_free_mib'),
    ('utilization.gpu', 'utilization_gpu_pct'),
    ('temperature.gpu', 'temperature_c'),
    ('power.draw', 'power_draw_w'),
    ('power.limit', 'power_limit_w'),
    ('persistence_mode', 'persistence_mode'),
    ('ecc.mode.current', 'ecc_mode'),
    ('ecc.errors.uncorrected.volatile.total', 'ecc_errors_uncorrected_volatile'),
    ('ecc.errors.uncorrected.aggregate.total', 'ecc_errors_uncorrected_aggregate'),
    ('mig.mode.current', 'mig_mode'),
    ('pcie.link.gen.current', 'pcie_gen_current'),
    ('pcie.link.gen.max', 'pcie_gen_max'),
    ('pcie.link.width.current', 'pcie_width_current'),
    ('pcie.link.width.max', 'pcie_width_max'),
)

QUERY_ARGS = ['--query-gpu=' + ','.join(field for field, dummy in QUERY_FIELDS), '--format=csv,noheader,nounits']

GPU_KEYS = ('index', 'uuid', 'name', 'pci_bus_id', 'compute_capability', 'memory_total_mib', 'memory_used_mib',
            'memory_free_mib', 'utilization_gpu_pct', 'temperature_c', 'power_draw_w', 'power_limit_w',
            'persistence_mode', 'ecc_mode', 'ecc_errors_uncorrected_volatile', 'ecc_errors_uncorrected_aggregate',
            'mig_mode', 'mig_devices', 'pcie_gen_current', 'pcie_gen_max', 'pcie_width_current', 'pcie_width_max')

MIG_KEYS = ('index', 'uuid', 'profile', 'gpu_instance_id', 'compute_instance_id', 'multiprocessor_count',
            'memory_total_mib', 'memory_used_mib', 'memory_free_mib')

# Texts nvidia-smi and NVML print where a GPU does not report a value; compared without brackets and case.
UNAVAILABLE = frozenset((
    '', 'n/a', 'na', 'none', 'not supported', 'unknown', 'unknown error', 'not available', 'insufficient permissions',
    'requested functionality has been deprecated', 'gpu requires reset', 'redacted', 'not found',
))

# nvidia-smi exits with the NVML return code; these are the codes of the failure states.
RC_STATES = {
    4: STATE_PERMISSION_DENIED,      # NVML_ERROR_NO_PERMISSION
    6: STATE_NO_DEVICES,             # NVML_ERROR_NOT_FOUND
    9: STATE_DRIVER_NOT_LOADED,      # NVML_ERROR_DRIVER_NOT_LOADED
    12: STATE_DRIVER_NOT_LOADED,     # NVML_ERROR_LIBRARY_NOT_FOUND
    18: STATE_VERSION_MISMATCH,      # NVML_ERROR_LIB_RM_VERSION_MISMATCH
    127: STATE_NO_NVIDIA_SMI,        # a shell or wrapper could not find the command
}

# Failure texts, searched in stdout and stderr before the exit status is considered.
FAILURE_TEXTS = (
    (re.compile(r'driver/library version mismatch', re.I), STATE_VERSION_MISMATCH),
    (re.compile(r'insufficient permissions|permission denied', re.I), STATE_PERMISSION_DENIED),
    (re.compile(r"couldn't communicate with the nvidia driver|driver not loaded", re.I), STATE_DRIVER_NOT_LOADED),
    (re.compile(r"couldn't find libnvidia-ml|libnvidia-ml\.so[^\n]*not found", re.I), STATE_DRIVER_NOT_LOADED),
    (re.compile(r'no devices were found', re.I), STATE_NO_DEVICES),
    (re.compile(r'nvidia-smi: (command )?not found|nvidia-smi: no such file or directory', re.I), STATE_NO_NVIDIA_SMI),
)

REASONS = {
    STATE_NO_NVIDIA_SMI: 'nvidia-smi is not installed or not on PATH, so no NVIDIA driver can be used on this host',
    STATE_DRIVER_NOT_LOADED: 'the NVIDIA kernel driver is not loaded (nvidia-smi cannot talk to it); install the '
                             'driver or load its module (modprobe nvidia), then probe again',
    STATE_VERSION_MISMATCH: 'the loaded NVIDIA kernel module and the installed driver libraries have different '
                            'versions (typical right after a driver upgrade); reboot the host so the new module '
                            'loads, then probe again',
    STATE_NO_DEVICES: 'the NVIDIA driver answers but sees no GPU (none installed, all hidden, or fallen off the bus)',
    STATE_PERMISSION_DENIED: 'the user running the probe may not open the NVIDIA device files (/dev/nvidia*); run '
                             'it with become or add the user to the group that owns them',
}


class NvsmiError(Exception):
    """Base of the errors raised here; the message reads 'Failed to <action>: <detail>'."""


class NvsmiParseError(NvsmiError):
    """Output that should hold GPU data does not have the expected format."""


def unavailable(text):
    """True when text is one of the markers for a value the GPU does not report."""
    if text is None:
        return True
    return text.strip().strip('[]').strip().lower() in UNAVAILABLE


def clean(text):
    """Stripped text, or None for a missing or unavailable value."""
    if text is None or unavailable(text):
        return None
    return text.strip()


_NUMBER = re.compile(r'^\s*(-?\d+(?:\.\d+)?)')


def to_float(text):
    """Leading number of a value with or without unit ('631.95 W' -> 631.95); None when not reported."""
    text = clean(text)
    if text is None:
        return None
    match = _NUMBER.match(text)
    if not match:
        return None
    return float(match.group(1))


def to_int(text):
    """Leading integer of a value with or without unit ('81559 MiB' -> 81559, '16x' -> 16); None when absent."""
    value = to_float(text)
    return None if value is None else int(round(value))


def to_bool(text):
    """'Enabled'/'Disabled' (and Yes/No, On/Off) as True/False; None when not reported."""
    text = clean(text)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in ('enabled', 'yes', 'on', 'true', '1'):
        return True
    if lowered in ('disabled', 'no', 'off', 'false', '0'):
        return False
    return None


CONVERTERS = {
    'index': to_int, 'uuid': clean, 'name': clean, 'pci_bus_id': clean, 'compute_capability': clean,
    'memory_total_mib': to_int, 'memory_used_mib': to_int, 'memory_free_mib': to_int,
    'utilization_gpu_pct': to_int, 'temperature_c': to_int, 'power_draw_w': to_float, 'power_limit_w': to_float,
    'persistence_mode': to_bool, 'ecc_mode': to_bool, 'ecc_errors_uncorrected_volatile': to_int,
    'ecc_errors_uncorrected_aggregate': to_int, 'mig_mode': to_bool, 'pcie_gen_current': to_int,
    'pcie_gen_max': to_int, 'pcie_width_current': to_int, 'pcie_width_max': to_int,
}


def empty_gpu():
    """A GPU record with every key present and nothing known yet."""
    gpu = dict.fromkeys(GPU_KEYS)
    gpu['mig_devices'] = []
    return gpu


def version_tuple(text):
    """'535.54.03' -> (535, 54, 3); None when text holds no version."""
    text = clean(text)
    if text is None:
        return None
    parts = re.findall(r'\d+', text)
    if not parts:
        return None
    return tuple(int(part) for part in parts)


def classify_failure(rc, stdout, stderr):
    """State of an nvidia-smi run that did not give GPU data, as (state, detail); None when it looks fine.

    The printed text decides first, then the exit status; a run with exit status 0 and no known
    failure text is not a failure.
    """
    text = '\n'.join(part for part in (stdout, stderr) if part)
    detail = ' '.join(line.strip() for line in text.splitlines() if line.strip())[:500]
    for pattern, state in FAILURE_TEXTS:
        if pattern.search(text):
            return state, detail
    if rc == 0:
        return None
    return RC_STATES.get(rc, STATE_ERROR), detail or 'exit status %d and no output' % rc


def reason_for(state, detail=None, rc=None):
    """A sentence for a person: what the state means and what to do, with nvidia-smi's own words."""
    base = REASONS.get(state, 'nvidia-smi failed')
    parts = [base]
    if detail:
        parts.append('nvidia-smi said: %s' % detail)
    if rc is not None:
        parts.append('exit status %d' % rc)
    return '; '.join(parts)


def _text(node, path):
    if node is None:
        return None
    found = node.find(path)
    if found is None:
        return None
    return found.text


def _first(node, *paths):
    """Text of the first path that exists and holds a reported value."""
    for path in paths:
        value = _text(node, path)
        if not unavailable(value):
            return value
    return None


def _ecc_uncorrected(node):
    """Sum of uncorrectable ECC counts under a volatile/aggregate node, across XML layouts."""
    if node is None:
        return None
    old_total = node.find('double_bit/total')
    if old_total is not None:
        return to_int(old_total.text)
    values = [to_int(child.text) for child in node if 'uncorrectable' in child.tag and len(child) == 0]
    known = [value for value in values if value is not None]
    if not known:
        return None
    return sum(known)


def _mig_devices(gpu_node):
    devices = []
    container = gpu_node.find('mig_devices')
    if container is None:
        return devices
    for position, node in enumerate(container.findall('mig_device')):
        device = dict.fromkeys(MIG_KEYS)
        device['index'] = to_int(_text(node, 'index'))
        if device['index'] is None:
            device['index'] = position
        device['uuid'] = clean(_text(node, 'uuid'))
        device['profile'] = clean(_first(node, 'profile', 'profile_name'))
        device['gpu_instance_id'] = to_int(_text(node, 'gpu_instance_id'))
        device['compute_instance_id'] = to_int(_text(node, 'compute_instance_id'))
        device['multiprocessor_count'] = to_int(_text(node, 'device_attributes/shared/multiprocessor_count'))
        device['memory_total_mib'] = to_int(_text(node, 'fb_memory_usage/total'))
        device['memory_used_mib'] = to_int(_text(node, 'fb_memory_usage/used'))
        device['memory_free_mib'] = to_int(_text(node, 'fb_memory_usage/free'))
        devices.append(device)
    return devices


def _gpu_from_xml(node, position):
    gpu = empty_gpu()
    gpu['index'] = position
    gpu['uuid'] = clean(_text(node, 'uuid'))
    gpu['name'] = clean(_text(node, 'product_name'))
    gpu['pci_bus_id'] = clean(_text(node, 'pci/pci_bus_id')) or clean(node.get('id'))
    gpu['compute_capability'] = clean(_first(node, 'compute_cap', 'cuda_compute_capability'))
    gpu['memory_total_mib'] = to_int(_text(node, 'fb_memory_usage/total'))
    gpu['memory_used_mib'] = to_int(_text(node, 'fb_memory_usage/used'))
    gpu['memory_free_mib'] = to_int(_text(node, 'fb_memory_usage/free'))
    gpu['utilization_gpu_pct'] = to_int(_text(node, 'utilization/gpu_util'))
    gpu['temperature_c'] = to_int(_text(node, 'temperature/gpu_temp'))

    # Power moved from <power_readings> to <gpu_power_readings> (R530+), and the draw split into
    # average and instant readings (R550+).
    power = node.find('gpu_power_readings')
    if power is None:
        power = node.find('power_readings')
    gpu['power_draw_w'] = to_float(_first(power, 'power_draw', 'average_power_draw', 'instant_power_draw'))
    gpu['power_limit_w'] = to_float(_first(power, 'power_limit', 'current_power_limit', 'enforced_power_limit'))

    gpu['persistence_mode'] = to_bool(_text(node, 'persistence_mode'))
    gpu['ecc_mode'] = to_bool(_text(node, 'ecc_mode/current_ecc'))
    gpu['ecc_errors_uncorrected_volatile'] = _ecc_uncorrected(node.find('ecc_errors/volatile'))
    gpu['ecc_errors_uncorrected_aggregate'] = _ecc_uncorrected(node.find('ecc_errors/aggregate'))
    gpu['mig_mode'] = to_bool(_text(node, 'mig_mode/current_mig'))
    gpu['mig_devices'] = _mig_devices(node)

    link = node.find('pci/pci_gpu_link_info')
    gpu['pcie_gen_current'] = to_int(_text(link, 'pcie_gen/current_link_gen'))
    gpu['pcie_gen_max'] = to_int(_first(link, 'pcie_gen/max_link_gen', 'pcie_gen/max_device_link_gen'))
    gpu['pcie_width_current'] = to_int(_text(link, 'link_widths/current_link_width'))
    gpu['pcie_width_max'] = to_int(_text(link, 'link_widths/max_link_width'))
    return gpu


def parse_xml(text):
    """Parse `nvidia-smi -q -x` output into {driver_version, cuda_driver_version, attached_gpus, gpus}.

    Each `<gpu>` element is one physical GPU; MIG devices are listed inside their GPU.
    """
    if not text or not text.strip():
        raise NvsmiParseError('Failed to parse nvidia-smi XML: the output is empty (expected an <nvidia_smi_log> '
                              'document)')
    if '<!ENTITY' in text:
        raise NvsmiParseError('Failed to parse nvidia-smi XML: the output declares entities (expected a plain '
                              '<nvidia_smi_log> document)')
    try:
        # The text comes from the local nvidia-smi and entity declarations are refused just above.
        root = ET.fromstring(text.strip().encode('utf-8'))  # nosec B314
    except ET.ParseError as exc:
        first = text.strip().splitlines()[0][:200]
        raise NvsmiParseError('Failed to parse nvidia-smi XML: %s (expected an <nvidia_smi_log> document, the '
                              'output starts with %r)' % (exc, first))
    if root.tag != 'nvidia_smi_log':
        raise NvsmiParseError('Failed to parse nvidia-smi XML: root element is <%s> (expected <nvidia_smi_log>)'
                              % root.tag)
    return {
        'driver_version': clean(_text(root, 'driver_version')),
        'cuda_driver_version': clean(_text(root, 'cuda_version')),
        'attached_gpus': to_int(_text(root, 'attached_gpus')),
        'gpus': [_gpu_from_xml(node, position) for position, node in enumerate(root.findall('gpu'))],
    }


def _header_field(name):
    """'memory.total [MiB]' -> 'memory.total'."""
    return re.sub(r'\s*\[[^\]]*\]\s*$', '', name.strip())


def parse_query_gpu(text, fields=None):
    """Parse `nvidia-smi --query-gpu` CSV into GPU records (only keys the fields cover are filled).

    With fields None the first line is taken as the header (`--format=csv`, units allowed);
    otherwise the rows carry exactly those fields in that order (`noheader`).
    Returns (gpus, driver_version) where driver_version comes from a driver_version column.
    """
    rows = [row for row in csv.reader(io.StringIO(text or ''), skipinitialspace=True) if row]
    if fields is None:
        if not rows:
            raise NvsmiParseError('Failed to parse nvidia-smi CSV: the output is empty (expected a header line)')
        fields = [_header_field(name) for name in rows[0]]
        rows = rows[1:]
    fields = list(fields)
    mapping = dict(QUERY_FIELDS)
    gpus = []
    driver_version = None
    for number, row in enumerate(rows, start=1):
        if len(row) != len(fields):
            raise NvsmiParseError('Failed to parse nvidia-smi CSV: row %d has %d values (expected %d: %s)'
                                  % (number, len(row), len(fields), ', '.join(fields)))
        gpu = {}
        for field, value in zip(fields, row):
            if field == 'driver_version':
                driver_version = clean(value) or driver_version
            key = mapping.get(field)
            if key is not None:
                gpu[key] = CONVERTERS[key](value)
        gpus.append(gpu)
    return gpus, driver_version


def _same_gpu(left, right):
    for key in ('uuid', 'pci_bus_id'):
        if left.get(key) and right.get(key):
            return left[key].lower() == right[key].lower()
    return False


def merge_gpus(base, extra):
    """Fill the XML records in base with the CSV records in extra (matched by UUID, else PCI bus id).

    A value extra reports replaces a missing one in base; the CSV index replaces the XML position.
    """
    merged = []
    for position, gpu in enumerate(base):
        gpu = dict(gpu)
        match = next((candidate for candidate in extra if _same_gpu(gpu, candidate)), None)
        if match is None and len(extra) == len(base):
            match = extra[position]
        if match:
            for key, value in match.items():
                if value is None:
                    continue
                if key == 'index' or gpu.get(key) is None:
                    gpu[key] = value
        merged.append(gpu)
    return merged


# NVML (nvidia-ml-py) ---------------------------------------------------------------------------------------------

NVML_LIBRARY_NOT_FOUND = 12


def nvml_error_code(exc):
    """NVML return code carried by an NVMLError, or None."""
    value = getattr(exc, 'value', None)
    return value if isinstance(value, int) else None


def _decode(value):
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return value


def _call(nvml, name, *args):
    """Call an NVML function; None when it is missing or the GPU does not support it."""
    function = getattr(nvml, name, None)
    if function is None:
        return None
    try:
        return _decode(function(*args))
    except Exception:  # NVMLError subclasses for unsupported queries; any of them means "not reported"
        return None


def cuda_version_text(number):
    """NVML's integer CUDA version (12020) as text ('12.2')."""
    if not isinstance(number, int) or number <= 0:
        return None
    return '%d.%d' % (number // 1000, (number % 1000) // 10)


def _mib(value):
    return None if value is None else int(value // (1024 * 1024))


def _nvml_mig_devices(nvml, handle):
    devices = []
    count = _call(nvml, 'nvmlDeviceGetMaxMigDeviceCount', handle) or 0
    for slot in range(count):
        mig = _call(nvml, 'nvmlDeviceGetMigDeviceHandleByIndex', handle, slot)
        if mig is None:
            continue
        device = dict.fromkeys(MIG_KEYS)
        name = _call(nvml, 'nvmlDeviceGetName', mig) or ''
        profile = re.search(r'MIG\s+(\S+)', name)
        memory = _call(nvml, 'nvmlDeviceGetMemoryInfo', mig)
        attributes = _call(nvml, 'nvmlDeviceGetAttributes', mig)
        device.update(
            index=len(devices), uuid=_call(nvml, 'nvmlDeviceGetUUID', mig),
            profile=profile.group(1) if profile else None,
            gpu_instance_id=_call(nvml, 'nvmlDeviceGetGpuInstanceId', mig),
            compute_instance_id=_call(nvml, 'nvmlDeviceGetComputeInstanceId', mig),
            multiprocessor_count=getattr(attributes, 'multiprocessorCount', None),
            memory_total_mib=_mib(getattr(memory, 'total', None)), memory_used_mib=_mib(getattr(memory, 'used', None)),
            memory_free_mib=_mib(getattr(memory, 'free', None)))
        devices.append(device)
    return devices


def _pair_first(value):
    if isinstance(value, (tuple, list)) and value:
        return value[0]
    return None


def read_nvml_device(nvml, position):
    """One GPU record read through NVML; values the GPU does not report stay None."""
    handle = nvml.nvmlDeviceGetHandleByIndex(position)
    gpu = empty_gpu()
    memory = _call(nvml, 'nvmlDeviceGetMemoryInfo', handle)
    utilization = _call(nvml, 'nvmlDeviceGetUtilizationRates', handle)
    pci = _call(nvml, 'nvmlDeviceGetPciInfo', handle)
    capability = _call(nvml, 'nvmlDeviceGetCudaComputeCapability', handle)
    power = _call(nvml, 'nvmlDeviceGetPowerUsage', handle)
    limit = _call(nvml, 'nvmlDeviceGetPowerManagementLimit', handle)
    persistence = _call(nvml, 'nvmlDeviceGetPersistenceMode', handle)
    ecc = _pair_first(_call(nvml, 'nvmlDeviceGetEccMode', handle))
    mig = _pair_first(_call(nvml, 'nvmlDeviceGetMigMode', handle))
    index = _call(nvml, 'nvmlDeviceGetIndex', handle)
    gpu.update(
        index=position if index is None else index,
        uuid=_call(nvml, 'nvmlDeviceGetUUID', handle),
        name=_call(nvml, 'nvmlDeviceGetName', handle),
        pci_bus_id=_decode(getattr(pci, 'busId', None)),
        compute_capability='%d.%d' % tuple(capability) if capability else None,
        memory_total_mib=_mib(getattr(memory, 'total', None)),
        memory_used_mib=_mib(getattr(memory, 'used', None)),
        memory_free_mib=_mib(getattr(memory, 'free', None)),
        utilization_gpu_pct=getattr(utilization, 'gpu', None),
        temperature_c=_call(nvml, 'nvmlDeviceGetTemperature', handle, getattr(nvml, 'NVML_TEMPERATURE_GPU', 0)),
        power_draw_w=None if power is None else round(power / 1000.0, 2),
        power_limit_w=None if limit is None else round(limit / 1000.0, 2),
        persistence_mode=None if persistence is None else bool(persistence),
        ecc_mode=None if ecc is None else bool(ecc),
        ecc_errors_uncorrected_volatile=_call(nvml, 'nvmlDeviceGetTotalEccErrors', handle, 1, 0),
        ecc_errors_uncorrected_aggregate=_call(nvml, 'nvmlDeviceGetTotalEccErrors', handle, 1, 1),
        mig_mode=None if mig is None else bool(mig),
        pcie_gen_current=_call(nvml, 'nvmlDeviceGetCurrPcieLinkGeneration', handle),
        pcie_gen_max=_call(nvml, 'nvmlDeviceGetMaxPcieLinkGeneration', handle),
        pcie_width_current=_call(nvml, 'nvmlDeviceGetCurrPcieLinkWidth', handle),
        pcie_width_max=_call(nvml, 'nvmlDeviceGetMaxPcieLinkWidth', handle),
    )
    if gpu['mig_mode']:
        gpu['mig_devices'] = _nvml_mig_devices(nvml, handle)
    return gpu


def read_nvml(nvml):
    """Driver, CUDA level and GPUs through an initialised NVML binding module (pynvml)."""
    count = nvml.nvmlDeviceGetCount()
    cuda = _call(nvml, 'nvmlSystemGetCudaDriverVersion_v2') or _call(nvml, 'nvmlSystemGetCudaDriverVersion')
    return {
        'driver_version': _call(nvml, 'nvmlSystemGetDriverVersion'),
        'cuda_driver_version': cuda_version_text(cuda),
        'attached_gpus': count,
        'gpus': [read_nvml_device(nvml, position) for position in range(count)],
    }

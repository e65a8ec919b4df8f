# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print gpu_probe's wall time per probe on the recorded fixtures (figures only, never pass/fail).

Each probe runs the module in a fresh interpreter, as Ansible does on a target, against the replaying
fake nvidia-smi, without the torch check. The target is under 0.5 s per host. Beside the full run the
script prints what the run is made of: interpreter start with AnsibleModule imported, one call of the
fake nvidia-smi (itself a Python script, standing in for the real binary), and the parsing alone.

    .venv/bin/python benchmarks/bench_gpu_probe.py [--repeat 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE = os.path.join(ROOT, 'tests', 'support', 'fake_nvidia_smi.py')
SCENARIOS = os.path.join(ROOT, 'tests', 'fixtures', 'nvsmi', 'scenarios.json')
MODULE = 'ansible_collections.mt5crs.gpu_orchestrator.plugins.modules.gpu_probe'


def probe_once(args_file, scenario):
    env = dict(os.environ, FAKE_NVSMI_SCENARIO=scenario, PYTHONPATH=os.path.join(ROOT, 'collections'))
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, '-m', MODULE, args_file], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    result = json.loads(proc.stdout)
    return elapsed, result['state']


def median_time(function, repeat):
    times = []
    for dummy in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def parse_only(scenario, table):
    """Parse the scenario's recorded answers the way the module does, without any subprocess."""
    sys.path.insert(0, os.path.join(ROOT, 'collections'))
    from ansible_collections.mt5crs.gpu_orchestrator.plugins.module_utils import _nvsmi
    fixtures = os.path.dirname(SCENARIOS)
    answers = table['scenarios'][scenario]

    def run():
        xml = answers['xml']
        with open(os.path.join(fixtures, xml.get('stdout') or xml.get('stderr'))) as stream:
            text = stream.read()
        if xml['rc'] != 0:
            _nvsmi.classify_failure(xml['rc'], text, '')
            return
        gpus = _nvsmi.parse_xml(text)['gpus']
        query = answers.get('query')
        if query and query['rc'] == 0:
            with open(os.path.join(fixtures, query['stdout'])) as stream:
                rows, dummy = _nvsmi.parse_query_gpu(stream.read(), [field for field, key in _nvsmi.QUERY_FIELDS])
            _nvsmi.merge_gpus(gpus, rows)
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=5, help='probes per scenario (default 5)')
    options = parser.parse_args()

    with open(SCENARIOS) as stream:
        table = json.load(stream)
    scenarios = sorted(table['scenarios'])
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as stream:
        json.dump({'ANSIBLE_MODULE_ARGS': {'nvidia_smi': FAKE, 'paths': [ROOT]}}, stream)
        args_file = stream.name
    try:
        print('gpu_probe wall time per probe (fresh interpreter, fake nvidia-smi, no torch check), %d runs each'
              % options.repeat)
        baseline = median_time(lambda: subprocess.run([sys.executable, '-c', 'import ansible.module_utils.basic'],
                                                      check=True), options.repeat)
        fake_env = dict(os.environ, FAKE_NVSMI_SCENARIO='h100', LC_ALL='C')
        fake_call = median_time(lambda: subprocess.run([FAKE, '-q', '-x'], env=fake_env, stdout=subprocess.DEVNULL,
                                                       check=True), options.repeat)
        print('interpreter start + AnsibleModule import: %.3f s; one fake nvidia-smi call: %.3f s'
              % (baseline, fake_call))
        print('%-20s %-18s %9s %9s %9s %10s' % ('scenario', 'state', 'min s', 'median s', 'max s', 'parse ms'))
        medians = []
        for scenario in scenarios:
            runs = [probe_once(args_file, scenario) for dummy in range(options.repeat)]
            times = [elapsed for elapsed, state in runs]
            medians.append(statistics.median(times))
            parse_ms = median_time(parse_only(scenario, table), options.repeat) * 1000.0
            row = (scenario, runs[0][1], min(times), medians[-1], max(times), parse_ms)
            print('%-20s %-18s %9.3f %9.3f %9.3f %10.2f' % row)
        print('median of medians: %.3f s per host (target: under 0.5 s per host)' % statistics.median(medians))
        print('load average at the end: %.2f %.2f %.2f on %d CPUs' % (os.getloadavg() + (os.cpu_count(),)))
    finally:
        os.unlink(args_file)


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A replaying nvidia-smi for tests: answers the gpu_probe module's exact invocations from recorded output.

Tests install this file as `nvidia-smi` on PATH (or pass it as the module's nvidia_smi option) and pick a
scenario of tests/fixtures/nvsmi/scenarios.json with FAKE_NVSMI_SCENARIO. Each scenario maps an invocation
name ("xml", "query") to the recorded stdout/stderr files and the exit status to replay.

It fails loudly (exit status 99, message on stderr) on any invocation the scenario does not define, on an
unknown scenario, and when LC_ALL is not C. When FAKE_NVSMI_LOG names a file, every invocation is
appended to it as one JSON line, so tests can count the calls.
"""

import json
import os
import sys

FIXTURES = os.environ.get('FAKE_NVSMI_FIXTURES') or os.path.join(
    os.path.dirname(os.path.dirname(os.path.realpath(__file__))), 'fixtures', 'nvsmi')
LOUD_FAILURE = 99


def die(message):
    sys.stderr.write('fake nvidia-smi: %s\n' % message)
    sys.exit(LOUD_FAILURE)


def log_call(args, scenario, matched):
    path = os.environ.get('FAKE_NVSMI_LOG')
    if not path:
        return
    with open(path, 'a') as stream:
        stream.write(json.dumps({'args': args, 'scenario': scenario, 'matched': matched,
                                 'lc_all': os.environ.get('LC_ALL')}) + '\n')


def read(relative):
    with open(os.path.join(FIXTURES, relative), 'rb') as stream:
        return stream.read()


def main(args):
    with open(os.path.join(FIXTURES, 'scenarios.json')) as stream:
        table = json.load(stream)
    scenario = os.environ.get('FAKE_NVSMI_SCENARIO', '')
    answers = table['scenarios'].get(scenario)
    matched = next((name for name, argv in table['invocations'].items() if argv == args), None)
    log_call(args, scenario, matched)

    if answers is None:
        die('unknown scenario FAKE_NVSMI_SCENARIO=%r (expected one of %s)'
            % (scenario, ', '.join(sorted(table['scenarios']))))
    if os.environ.get('LC_ALL') != 'C':
        die('called with LC_ALL=%r (expected C, so that output does not depend on the locale)'
            % os.environ.get('LC_ALL'))
    if matched is None or matched not in answers:
        die('unexpected invocation %r in scenario %r (it answers only: %s)'
            % (args, scenario, '; '.join(' '.join(table['invocations'][name]) for name in answers)))

    answer = answers[matched]
    if answer.get('stdout'):
        sys.stdout.buffer.write(read(answer['stdout']))
    if answer.get('stderr'):
        sys.stderr.buffer.write(read(answer['stderr']))
    return answer['rc']


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

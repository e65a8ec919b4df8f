# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check a verify_log evidence log offline and name the first line that breaks its hash chain.

Usage: python3 tools/verify_log_check.py [--head SHA256] [--quiet] LOG.jsonl

Exit status: 0 the chain is intact and complete; 1 a line breaks the chain (changed, removed, reordered or inserted
line, or a footer that disagrees); 2 the file cannot be read or the arguments are wrong; 3 the chain is intact but
the log has no footer (the run was interrupted, or its end was cut off).

Needs only the Python standard library, so an auditor can run it anywhere.
"""

import argparse
import hashlib
import json
import sys

FORMAT = 'mt5crs.verify_log/1'
EXIT_OK, EXIT_BROKEN, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3


def sha256_hex(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(',', ':'), ensure_ascii=True)


class ChainError(Exception):
    """A line that breaks the chain; `number` is its 1-based line number in the file."""

    def __init__(self, number, reason):
        super().__init__('line %d: %s' % (number, reason))
        self.number = number
        self.reason = reason


def check_lines(lines):
    """Check the lines of a log (text, newline stripped or not).

    Returns a dict (run_id, records, complete, head, verdict); raises ChainError at the first bad line.
    """
    prev_hash = None
    header = None
    footer = None
    records = 0
    for index, raw in enumerate(lines):
        number = index + 1
        line = raw[:-1] if raw.endswith('\n') else raw
        if footer is not None:
            raise ChainError(number, 'line after the footer (the footer must be the last line)')
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ChainError(number, 'not a JSON object (%s)' % exc)
        if not isinstance(record, dict):
            raise ChainError(number, 'not a JSON object')

        stated = record.get('hash')
        body = dict(record)
        body.pop('hash', None)
        if stated != sha256_hex(canonical_json(body)):
            raise ChainError(number, 'content does not match its own hash (the line was changed)')
        if canonical_json(record) != line:
            raise ChainError(number, 'line is not in canonical form (the line was changed)')
        if record.get('seq') != index:
            raise ChainError(number, 'sequence number %r where %d was expected (a line was removed, moved or '
                                     'inserted before it)' % (record.get('seq'), index))

        if index == 0:
            if record.get('type') != 'header' or record.get('format') != FORMAT:
                raise ChainError(number, 'first line is not a %s header' % FORMAT)
            nonce = record.get('nonce')
            if not isinstance(nonce, str) or len(nonce) < 32:
                raise ChainError(number, 'header carries no run nonce')
            expected = sha256_hex(nonce)
            if record.get('prev') != expected:
                raise ChainError(number, 'header does not chain from its run nonce')
            header = record
        else:
            if record.get('prev') != prev_hash:
                raise ChainError(number, 'prev does not match the SHA-256 of line %d (a line was changed, removed, '
                                         'moved or inserted)' % index)
            kind = record.get('type')
            if kind == 'header':
                raise ChainError(number, 'second header in the log')
            if kind == 'footer':
                if record.get('chain_head') != prev_hash:
                    raise ChainError(number, 'footer chain_head does not match the SHA-256 of line %d' % index)
                if record.get('records') != records:
                    raise ChainError(number, 'footer counts %r records, the log holds %d'
                                     % (record.get('records'), records))
                footer = record
            else:
                records += 1
        prev_hash = sha256_hex(line)

    if header is None:
        raise ChainError(1, 'empty log')
    return {
        'run_id': header.get('run_id'),
        'records': records,
        'complete': footer is not None,
        'head': prev_hash,
        'verdict': footer.get('verdict') if footer else None,
        'lines': len(lines),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description='Check the hash chain of a verify_log evidence log.')
    parser.add_argument('log', help='the <run id>.jsonl file')
    parser.add_argument('--head', help='expected chain head (SHA-256 of the last line), printed at the end of the run')
    parser.add_argument('--quiet', action='store_true', help='print only problems')
    args = parser.parse_args(argv)

    try:
        with open(args.log, encoding='ascii', newline='\n') as handle:
            lines = handle.read().split('\n')
    except (OSError, UnicodeDecodeError) as exc:
        print('%s: cannot read the log: %s' % (args.log, exc), file=sys.stderr)
        return EXIT_USAGE
    if lines and lines[-1] == '':
        lines.pop()
    else:
        print('%s: line %d: last line has no newline (the file was cut or appended to)' % (args.log, len(lines)),
              file=sys.stderr)
        return EXIT_BROKEN

    try:
        info = check_lines(lines)
    except ChainError as exc:
        print('%s: BROKEN at %s' % (args.log, exc), file=sys.stderr)
        return EXIT_BROKEN

    if args.head and args.head.strip().lower() != info['head']:
        print('%s: line %d: chain head %s differs from the expected %s (the log was rewritten or is another run)'
              % (args.log, info['lines'], info['head'], args.head), file=sys.stderr)
        return EXIT_BROKEN
    if not info['complete']:
        print('%s: chain intact over %d lines but no footer: the run was interrupted or the end was cut off '
              '(head %s)' % (args.log, info['lines'], info['head']), file=sys.stderr)
        return EXIT_INCOMPLETE
    if not args.quiet:
        print('%s: OK run %s, %d records, verdict %s, chain head %s'
              % (args.log, info['run_id'], info['records'], info['verdict'], info['head']))
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())

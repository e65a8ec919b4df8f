# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small OpenAI-compatible chat-completions server on 127.0.0.1 for the LLM reviewer tests.

It speaks the real wire format (POST <base>/chat/completions, JSON body with model and messages,
answer with id, choices[0].message.content and usage) and can be told to answer with a given
content, an HTTP error, a body that is not JSON, or to sleep before answering.
Run it standalone for a playbook: ``python chat_server.py --content '{"verdict": "approve", "findings": []}'``.
"""

import argparse
import http.server
import json
import threading
import time
import uuid


class ChatServer:
    """Threaded HTTP server; ``behaviour`` may be changed between requests; ``requests`` records what arrived."""

    def __init__(self, content='{"verdict": "approve", "findings": []}', status=200, sleep=0.0, raw=None,
                 usage=None, port=0):
        self.behaviour = {'content': content, 'status': status, 'sleep': sleep, 'raw': raw,
                          'usage': usage or {'prompt_tokens': 321, 'completion_tokens': 17, 'total_tokens': 338}}
        self.requests = []
        self.last_id = None
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                return

            def do_POST(self):
                length = int(self.headers.get('Content-Length', 0))
                body = self.rfile.read(length)
                server.requests.append({'path': self.path, 'headers': dict(self.headers), 'body': json.loads(body)})
                behaviour = dict(server.behaviour)
                if behaviour['sleep']:
                    time.sleep(behaviour['sleep'])
                if not self.path.endswith('/chat/completions'):
                    return self._send(404, b'{"error": {"message": "not found"}}')
                if behaviour['status'] != 200:
                    return self._send(behaviour['status'], b'{"error": {"message": "server says no"}}')
                if behaviour['raw'] is not None:
                    return self._send(200, behaviour['raw'].encode('utf-8'))
                server.last_id = 'chatcmpl-%s' % uuid.uuid4().hex[:12]
                answer = {
                    'id': server.last_id,
                    'object': 'chat.completion',
                    'created': int(time.time()),
                    'model': server.requests[-1]['body'].get('model'),
                    'choices': [{'index': 0, 'finish_reason': 'stop',
                                 'message': {'role': 'assistant', 'content': behaviour['content']}}],
                    'usage': behaviour['usage'],
                }
                return self._send(200, json.dumps(answer).encode('utf-8'))

            def _send(self, status, payload):
                try:
                    self.send_response(status)
                    self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def endpoint(self):
        return 'http://127.0.0.1:%d/v1' % self.httpd.server_address[1]

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--content', default='{"verdict": "approve", "findings": []}')
    parser.add_argument('--sleep', type=float, default=0.0)
    parser.add_argument('--status', type=int, default=200)
    args = parser.parse_args()
    server = ChatServer(content=args.content, status=args.status, sleep=args.sleep, port=args.port)
    print(server.endpoint, flush=True)
    server.httpd.serve_forever()


if __name__ == '__main__':
    main()

"""An HTTP server for the reachability probes: answers every GET with BODY, or
with the client's address when BODY is empty (to see NAT at work). Creates
READY_FILE once it listens. Usage: serve.py IP:PORT BODY READY_FILE"""
import http.server
import socketserver
import sys

listen, body, ready = sys.argv[1:4]


class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        text = (body or self.client_address[0]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    def server_bind(self):
        # HTTPServer's own looks the address up in DNS, which hangs in a
        # namespace whose default route leads nowhere.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


host, port = listen.rsplit(":", 1)
server = Server((host, int(port)), Answer)
open(ready, "w").close()
server.serve_forever()

#!/bin/sh
# Real keepalived 2.2.7: the exact bytes its HTTP_GET, DNS_CHECK and
# SMTP_CHECK send, captured by one python responder on 127.0.0.1/.2.
modprobe ip_vs
ip addr add 127.0.0.2/8 dev lo 2>/dev/null
cat > /tmp/resp.py <<'P'
import socket, threading, sys
log = open('/tmp/wire', 'a', buffering=1)
def http(port, host='127.0.0.1'):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port)); s.listen(16)
    while True:
        c, _ = s.accept(); d = b''
        while b'\r\n\r\n' not in d:
            x = c.recv(4096)
            if not x: break
            d += x
        log.write('HTTP %s:%d %r\n' % (host, port, d))
        c.sendall(b'HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nhello world\n'); c.close()
def dns():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 5353))
    while True:
        d, a = s.recvfrom(512)
        log.write('DNS %s\n' % d.hex())
        r = bytearray(d); r[2] |= 0x80; r[7] = 1
        r += bytes([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1])
        s.sendto(bytes(r), a)
def smtp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', 2525)); s.listen(4)
    while True:
        c, _ = s.accept(); c.sendall(b'220 lab ESMTP\r\n'); f = c.makefile('rb')
        for line in f:
            log.write('SMTP %r\n' % line)
            c.sendall(b'250 ok\r\n' if line.startswith(b'HELO') else b'221 bye\r\n')
            if line.startswith(b'QUIT'): break
        c.close()
for t in [lambda: http(8080), lambda: http(80), lambda: http(8080, '127.0.0.2'), dns, smtp]:
    threading.Thread(target=t, daemon=True).start()
threading.Event().wait()
P
python3 /tmp/resp.py &
PP=$!
sleep 2
cat > /tmp/k.conf <<'C'
global_defs { router_id lab }
virtual_server 10.0.0.1 80 {
  delay_loop 30
  protocol TCP
  real_server 127.0.0.1 8080 { HTTP_GET { url { path /a?x=1
        digest 6f5902ac237024bdd0c176cb93063dc4 }
      connect_timeout 3
      warmup 0 } }
  real_server 127.0.0.1 80 { HTTP_GET { url { path /b }
      http_protocol 1.1
      warmup 0 } }
  real_server 127.0.0.2 8080 { HTTP_GET { url { path /c
        virtualhost www.example.com }
      http_protocol 1.0C
      warmup 0 } }
}
virtual_server 10.0.0.2 53 {
  delay_loop 30
  protocol UDP
  real_server 127.0.0.1 5353 { DNS_CHECK { type A
      name www.example.com
      warmup 0 } }
}
virtual_server 10.0.0.3 25 {
  delay_loop 30
  protocol TCP
  real_server 127.0.0.1 2525 { SMTP_CHECK { helo_name lab.example
      warmup 0 } }
}
C
keepalived -C -n -l -f /tmp/k.conf > /tmp/kl.out 2>&1 &
KP=$!
sleep 8
echo "=== ipvs"; ipvsadm -ln | tail -n +4
kill $KP; sleep 2; kill $PP
echo "=== wire"; cat /tmp/wire
echo "=== keepalived"; grep -iE 'check|fail|succe|timeout|digest' /tmp/kl.out | grep -v Activating

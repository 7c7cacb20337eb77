#!/bin/sh
# Real keepalived 2.2.7: HTTP_GET retry 2, delay_before_retry 1, delay_loop 4
# against a server whose status is switched by a file; every request is
# logged with the guest uptime. Expect 3 failed requests (1 s apart) before
# the removal, then one request per delay_loop while down.
modprobe ip_vs
echo 200 > /tmp/status
cat > /tmp/resp.py <<'P'
import socket
log = open('/tmp/log', 'a', buffering=1)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 8080)); s.listen(16)
while True:
    c, _ = s.accept(); d = b''
    while b'\r\n\r\n' not in d:
        x = c.recv(4096)
        if not x: break
        d += x
    st = open('/tmp/status').read().strip()
    up = open('/proc/uptime').read().split()[0]
    log.write('%s request -> %s\n' % (up, st))
    c.sendall(('HTTP/1.0 %s X\r\nContent-Length: 0\r\n\r\n' % st).encode()); c.close()
P
python3 /tmp/resp.py &
PP=$!
cat > /tmp/n.sh <<'S'
#!/bin/sh
read up _ < /proc/uptime
echo "$up notify $*" >> /tmp/log
S
chmod 755 /tmp/n.sh
sleep 2
cat > /tmp/k.conf <<'C'
global_defs { router_id lab }
virtual_server 10.0.0.1 80 {
  delay_loop 4
  protocol TCP
  real_server 127.0.0.1 8080 {
    notify_down "/tmp/n.sh down"
    notify_up "/tmp/n.sh up"
    HTTP_GET { url { path / }
      retry 2
      delay_before_retry 1
      connect_timeout 2
      warmup 0 } }
}
C
keepalived -C -n -l -f /tmp/k.conf > /tmp/kl.out 2>&1 &
KP=$!
sleep 6
read up _ < /proc/uptime; echo "$up SET 500" >> /tmp/log; echo 500 > /tmp/status
sleep 14
echo "=== ipvs while failing"; ipvsadm -ln | tail -n +4
read up _ < /proc/uptime; echo "$up SET 200" >> /tmp/log; echo 200 > /tmp/status
sleep 12
echo "=== ipvs after recovery"; ipvsadm -ln | tail -n +4
kill $KP; sleep 2; kill $PP
echo "=== log"; cat /tmp/log
echo "=== keepalived"; grep -iE 'check|fail|succe|timeout|service|status' /tmp/kl.out | grep -v -E 'Activating|Healthcheck child'

#!/bin/sh
# Real keepalived 2.2.7: TCP_CHECK retry 2, delay_before_retry 1,
# delay_loop 4. Port 8080 listens, then stops; port 8081 (alpha) never
# listens. Every SYN the checker sends is timestamped by tcpdump.
modprobe ip_vs
cat > /tmp/lst.py <<'P'
import socket, os, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 8080)); s.listen(16); s.settimeout(0.2)
while not os.path.exists('/tmp/stop'):
    try:
        c, _ = s.accept(); c.close()
    except socket.timeout:
        pass
s.close()
time.sleep(1000)
P
python3 /tmp/lst.py &
LP=$!
tcpdump -i lo -n -tt -l 'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0' > /tmp/syn 2>/dev/null &
TP=$!
cat > /tmp/n.sh <<'S'
#!/bin/sh
echo "$(date +%s.%N) notify $*" >> /tmp/log
S
chmod 755 /tmp/n.sh
sleep 2
cat > /tmp/k.conf <<'C'
global_defs { router_id lab }
virtual_server 10.0.0.1 80 {
  delay_loop 4
  protocol TCP
  real_server 127.0.0.1 8080 {
    notify_down "/tmp/n.sh down 8080"
    TCP_CHECK { retry 2
      delay_before_retry 1
      connect_timeout 1
      warmup 0 } }
  real_server 127.0.0.1 8081 {
    notify_down "/tmp/n.sh down 8081"
    TCP_CHECK { retry 2
      delay_before_retry 1
      connect_timeout 1
      alpha
      warmup 0 } }
}
C
keepalived -C -n -l -f /tmp/k.conf > /tmp/kl.out 2>&1 &
KP=$!
sleep 7
echo "$(date +%s.%N) STOP 8080" >> /tmp/log; touch /tmp/stop
sleep 16
kill $KP; sleep 1; kill $TP $LP
echo "=== syn (time dstport)"; awk '{print $1, $5}' /tmp/syn
echo "=== log"; cat /tmp/log
echo "=== keepalived"; grep -iE 'tcp|fail|succe|service' /tmp/kl.out | grep -v -E 'Activating|Healthcheck child'

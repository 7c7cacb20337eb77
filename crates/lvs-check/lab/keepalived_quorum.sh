#!/bin/sh
# Real keepalived 2.2.7: quorum 4, hysteresis 1, sorry server, three real
# servers of weight 2 driven by MISC_CHECK state files; ipvsadm after each
# step. Expect: 6 up; 4 still up; 2 lost (sorry in); 4 still down; 6 back.
modprobe ip_vs
cat > /tmp/c.sh <<'S'
#!/bin/sh
read s < /tmp/st_$1
exit $s
S
cat > /tmp/n.sh <<'S'
#!/bin/sh
read up _ < /proc/uptime
echo "$up notify $*" >> /tmp/log
S
chmod 755 /tmp/c.sh /tmp/n.sh
for x in 1 2 3; do echo 0 > /tmp/st_$x; done
cat > /tmp/k.conf <<'C'
global_defs { router_id lab }
virtual_server 10.0.0.3 80 {
  delay_loop 2
  protocol TCP
  quorum 4
  hysteresis 1
  quorum_up "/tmp/n.sh qup"
  quorum_down "/tmp/n.sh qdown"
  sorry_server 10.0.9.9 80
  real_server 10.0.3.1 80 { weight 2
    MISC_CHECK { misc_path "/tmp/c.sh 1"
      warmup 0 } }
  real_server 10.0.3.2 80 { weight 2
    MISC_CHECK { misc_path "/tmp/c.sh 2"
      warmup 0 } }
  real_server 10.0.3.3 80 { weight 2
    MISC_CHECK { misc_path "/tmp/c.sh 3"
      warmup 0 } }
}
C
keepalived -C -n -l -f /tmp/k.conf > /tmp/kl.out 2>&1 &
KP=$!
step() { read up _ < /proc/uptime; echo "$up STEP $1" >> /tmp/log; }
show() { echo "=== $1"; ipvsadm -ln | tail -n +4; }
sleep 6; show "all up (6)"
step "rs1 fails"; echo 1 > /tmp/st_1; sleep 6; show "rs1 down (4)"
step "rs2 fails"; echo 1 > /tmp/st_2; sleep 6; show "rs2 down (2)"
step "rs1 back"; echo 0 > /tmp/st_1; sleep 6; show "rs1 back (4)"
step "rs2 back"; echo 0 > /tmp/st_2; sleep 6; show "rs2 back (6)"
kill $KP; sleep 3
echo "=== log"; cat /tmp/log
echo "=== keepalived"; grep -E 'quorum|sorry|pool|service' /tmp/kl.out | grep -v Activating

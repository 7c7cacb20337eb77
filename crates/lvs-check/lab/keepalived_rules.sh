#!/bin/sh
# Real keepalived 2.2.7 (ipvs-ref lab VM): retry count, misc_dynamic weights,
# quorum/hysteresis at start-up, shell use of misc_path, alpha notify.
# Run: /work/shared/lab/ipvs-ref/run.sh crates/lvs-check/lab/keepalived_rules.sh
modprobe ip_vs
cat > /tmp/c.sh <<'S'
#!/bin/sh
read s < /tmp/st_$1
read up _ < /proc/uptime
echo "$up call $1 exit $s" >> /tmp/log
exit $s
S
cat > /tmp/n.sh <<'S'
#!/bin/sh
read up _ < /proc/uptime
echo "$up notify $*" >> /tmp/log
S
printf 'exit 1\n' > /tmp/nohb
chmod 755 /tmp/c.sh /tmp/n.sh /tmp/nohb
for x in A B C1 C2 C3 F; do echo 0 > /tmp/st_$x; done
echo 1 > /tmp/st_E
cat > /tmp/k.conf <<'C'
global_defs { router_id lab }
virtual_server 10.0.0.1 80 {
  delay_loop 4
  protocol TCP
  real_server 10.0.1.1 80 {
    notify_up "/tmp/n.sh up A"
    notify_down "/tmp/n.sh down A"
    MISC_CHECK { misc_path "/tmp/c.sh A"
      retry 2
      delay_before_retry 1
      warmup 0 }
  }
}
virtual_server 10.0.0.2 80 {
  delay_loop 3
  protocol TCP
  real_server 10.0.2.1 80 {
    weight 5
    MISC_CHECK { misc_path "/tmp/c.sh B"
      misc_dynamic
      warmup 0 }
  }
}
virtual_server 10.0.0.3 80 {
  delay_loop 3
  protocol TCP
  quorum 6
  hysteresis 1
  quorum_up "/tmp/n.sh qup C"
  quorum_down "/tmp/n.sh qdown C"
  sorry_server 10.0.9.9 80
  real_server 10.0.3.1 80 { weight 2
    MISC_CHECK { misc_path "/tmp/c.sh C1"
      warmup 0 } }
  real_server 10.0.3.2 80 { weight 2
    MISC_CHECK { misc_path "/tmp/c.sh C2"
      warmup 0 } }
  real_server 10.0.3.3 80 { weight 2
    MISC_CHECK { misc_path "/tmp/c.sh C3"
      warmup 0 } }
}
virtual_server 10.0.0.4 80 {
  delay_loop 3
  protocol TCP
  real_server 10.0.4.1 80 { MISC_CHECK { misc_path "/bin/echo ok; exit 1"
      warmup 0 } }
  real_server 10.0.4.2 80 { MISC_CHECK { misc_path "/tmp/nohb"
      warmup 0 } }
}
virtual_server 10.0.0.5 80 {
  delay_loop 3
  protocol TCP
  alpha
  real_server 10.0.5.1 80 {
    notify_down "/tmp/n.sh down E"
    MISC_CHECK { misc_path "/tmp/c.sh E"
      retry 1
      delay_before_retry 1
      warmup 0 }
  }
}
C
keepalived -C -n -l -f /tmp/k.conf > /tmp/kl.out 2>&1 &
KP=$!
sleep 10
echo "=== snapshot 1 (start)"; ipvsadm -ln
read up _ < /proc/uptime; echo "$up SET A=1 B=12" >> /tmp/log
echo 1 > /tmp/st_A; echo 12 > /tmp/st_B
sleep 14
echo "=== snapshot 2 (A failing, B exit 12)"; ipvsadm -ln
read up _ < /proc/uptime; echo "$up SET B=0 C1=1" >> /tmp/log
echo 0 > /tmp/st_B; echo 1 > /tmp/st_C1
sleep 8
echo "=== snapshot 3 (B exit 0)"; ipvsadm -ln
kill $KP; sleep 3
echo "=== log"; cat /tmp/log
echo "=== keepalived"; grep -vE 'Opening|Registering|Running on|Command line|Configuration file|WARNING - default user|Script user|Initializing|Unable to load|Starting' /tmp/kl.out | head -80

#!/bin/sh
# Real keepalived 2.2.7: misc_path files that exec refuses, omega at
# shutdown, alpha + inhibit_on_failure, sorry_server_inhibit.
modprobe ip_vs
cat > /tmp/n.sh <<'S'
#!/bin/sh
read up _ < /proc/uptime
echo "$up notify $*" >> /tmp/log
S
printf 'touch /tmp/ran_nohb\nexit 1\n' > /tmp/nohb
printf '#!/bin/sh\nexit 1\n' > /tmp/noexec
chmod 755 /tmp/n.sh /tmp/nohb
chmod 644 /tmp/noexec
cat > /tmp/k.conf <<'C'
global_defs { router_id lab }
virtual_server 10.0.0.1 80 {
  delay_loop 3
  protocol TCP
  real_server 10.0.1.1 80 { MISC_CHECK { misc_path "/tmp/nohb"
      warmup 0 } }
  real_server 10.0.1.2 80 { MISC_CHECK { misc_path "/tmp/noexec"
      warmup 0 } }
  real_server 10.0.1.3 80 { MISC_CHECK { misc_path "/tmp/missing"
      warmup 0 } }
}
virtual_server 10.0.0.2 80 {
  delay_loop 3
  protocol TCP
  omega
  quorum_down "/tmp/n.sh qdown omega"
  real_server 10.0.2.1 80 {
    notify_down "/tmp/n.sh down omega-rs1"
    MISC_CHECK { misc_path "/bin/true"
      warmup 0 } }
}
virtual_server 10.0.0.3 80 {
  delay_loop 3
  protocol TCP
  quorum_down "/tmp/n.sh qdown noomega"
  real_server 10.0.3.1 80 {
    notify_down "/tmp/n.sh down noomega-rs1"
    MISC_CHECK { misc_path "/bin/true"
      warmup 0 } }
}
virtual_server 10.0.0.4 80 {
  delay_loop 3
  protocol TCP
  alpha
  inhibit_on_failure
  sorry_server 10.0.9.9 80
  sorry_server_inhibit
  real_server 10.0.4.1 80 { weight 3
    MISC_CHECK { misc_path "/bin/false"
      warmup 0 } }
  real_server 10.0.4.2 80 { weight 4
    MISC_CHECK { misc_path "/bin/true"
      warmup 0 } }
}
virtual_server 10.0.0.5 80 {
  delay_loop 3
  protocol TCP
  sorry_server 10.0.9.9 80
  sorry_server_inhibit
  real_server 10.0.5.1 80 { MISC_CHECK { misc_path "/bin/true"
      warmup 0 } }
}
C
keepalived -C -n -l -f /tmp/k.conf > /tmp/kl.out 2>&1 &
KP=$!
sleep 1.5
echo "=== snapshot 0 (just started)"; ipvsadm -ln
sleep 8
echo "=== snapshot 1"; ipvsadm -ln
kill $KP; sleep 4
echo "=== ran_nohb: $(ls /tmp/ran_nohb 2>&1)"
echo "=== log"; cat /tmp/log
echo "=== keepalived"; grep -vE 'Opening|Registering|Running on|Command line|Configuration file|WARNING - default user|Script user|Initializing|Unable to load|Starting|no scheduler|no forwarding|Activating' /tmp/kl.out | head -60

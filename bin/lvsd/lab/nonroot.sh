. /lab/scenarios/lib.sh
modprobe ip_vs
ipvsadm -A -t 10.0.0.1:80 -s rr
cap setpriv --reuid=65534 --regid=65534 --clear-groups ipvsadm -Ln
cap setpriv --reuid=65534 --regid=65534 --clear-groups ipvsadm -A -t 10.0.0.2:80
cap setpriv --reuid=65534 --regid=65534 --clear-groups ipvsadm -h

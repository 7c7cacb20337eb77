#!/bin/sh
# Real keepalived 2.2.7: start-up tables (ipvsadm -Sn) of the corpus files,
# then a reload scenario driven by MISC_CHECK state files.
modprobe ip_vs
mkdir -p /tmp/corpus && cd /tmp/corpus
echo "H4sIAAAAAAAAA+1bbW/bOBLOZ/+KSS5Ak4PlSLLlt6LABW3vNrht6mu89+kAgbZoS1dZ1IpSXF+R/e07pChZluXYe4iTLKppi9oUxeHrM8/M0E6kLelEm5Fo0ZqyYHZyBNFRup2O/B+l/H/H6rVPDKut65ZhmXr7RDdMq22cgH6MzpQl4TGJAE4ixuLH6u17/ieVU7gGx4voNNYilsReMAfcDyD2wxB+Go9HQAJHfrgDFuBfCv++GTVhxpJI1uQ0uqcRbzZOYep7NIghxK8ej2kwpTBZwZXZacoG7H98HMPSi12IlwySyOdwQQCnP0641EIC+PTBwoYcb055fNmEu7uf12/ldSMSzOlb2ZdUOzgR8QLqYK8iWOBHVE5QPTZ1saTe3I1Bx9bEC/9lXiAG6QVA/NAlsGAOTdv3AtebeLHNAntGPD+JaKvRmPtsQnzboTMO3xuAIqaJRrbngD+RZ8eQxQGLvZk3JbGH71PshK/qC2Eh/xv9RhahT1sBjWX5w47X7FnEFnnbW6/xRRzaatiG2Wvp+MdYP8EzHOBi2rG3oNhRaOuNh0bj3oviBIeh3sNDJt4y2i1Dh76uOupQn6xsn7EQurLAn9jEnzNY+tPs+1cP1+nDF/m1sM4FdfrWszmuV+KTyItXYFpWK/unakYsZlPmw/j9SBaovrqMx7BcLlvFCUgXgK5HYuitLo4Ex7IehxC16oael+Q7cF1JCG7DUonsFMH9cOWiotj939bTdBviVOPOMXV94/nDwa2LVrzplc/mrBUG861a6SGAwaRN9GnfIv1+j5hW1+kO2gMHvxEycfpT5xHtW3th42lE42hVKku3wITiOaJ2WsHMKzwUtm3lGpivcg2eexbam7PwlwychnjWIaDLrEN44HkTcInJxPe4i+iF+MRhhvjE3fIkPvkcHjpHe4fbqVx0Ky+QKJt/28bY17o5soHvQc9Op70Nn2rLPz9+PoaP654W1qlwODNb++TTr5mDwR9YAuvwvWf+iQf10Hhp6idltlyQ6KvmBPxo9H8f/ze6HavM/zu9Ts3/n0NO4cMtMntxrH75kJJ9BBIgXLLlGXoGS+L7mtgkkmx7SOovYpeCKEHaHgkOHiPPR64tirM3JBWfMDxRGUBxZOBTl06/oqWTfBsV2+9/+vj+n28FtV9xZEJ4zBFEsam8Q7ImdkULCb4ZA8cmnMQXFF70FaukbbS2YDrd2WBV4LO1Ac9RVEbnKsTpS6JtrNsrAk5ekI+phC/xKqRw9/l6ozAgCwoZvWXRvFXBTA4iHmnfzJfv27axTHuHWA0WUoV9lrJkKG+vx5s2DpdbFqA/tWuRTKFqraswE+vu5rumNBNl1D508s2WuUOn8QQ6j2opvGDqJw7VhNd8LAuwB//1dq+A/x1D4H+vV8d/nkXW8R/E6yU63TSDeQ6+d09FoCS1BD7iAZm6kAQObnyxVVrOVVOcBieFfxKA2k0goiZvEasjL4w5REkgDAo+T4Iw8u6xqTkagQQViQCRQ2ck8eP9wRZsXQVb0pZt2ULAJsxZyWIaoC9FbfWU02kiSLNApaxjqtt/lVv9dTCwl5UFmUaMa3Oc6PBYFHAf/7Oswvk3xPlvm2a7Pv/PIafwGU83CUNfBSEhZGhow2QdlEB2JiOuwGZAHCeinFMVsM3pHh5/wbaasMQTh25ryttCEiGNwAPMh1h3gYfc05C6UWlC89gtFSEPoRobiWiI3IAKRIHf7j7+qwmfbu7eK8Mp21x4fGo7K+Qn3lRZWd7E1n9NWJQsVKQYW+IsQoqidHylYQwkzqMpiHQCz5IAEcSBC1lXmXRbhSguEY/OR58//2zffhy/Qzs/QBLTOL8ejezR5y/jd329rzfOZcfeXSU8uvLZlPhXEy+4wtnUJNNNq3+5ewf/2WIO59+zxh9a599vH7Aga/sBvqsXCkyiUygqzEmxphA5PdKTPTv/Lqs8gKbJYOqWRk0LWRQXFZ9VtZbHJqoeZiuxfvSgPm9xQVuCjNhrCtyNgdmShA3daUMX0UNZrIj7wKigk+UmdpL6ZYnVb1HJLNys9k1ffnFXHHcr5R5XPKy4MyDdBIPWAOTil59nO6fREDv34rYJRhPal6A2wWvx+Ddl4X2jjoaH1GXOi+F/r1fif20TH9f4/wyS4n/m2eNuEJ41+u5LEjnio9oZIiC5gdoXBCTgiYMlTYYkgMIkRHTBYmzSiyXOC38dYhfP7Vyk8OIE3R3/UiC24n0ZwIkwAhqb2BVpO3XslTZRW+kV+C7AKI0kiH74S7LikITYpktsnvCQBk4z7UzZDmT9EaxTkl5QSc/t8AEe9p6M80K/Msbb+f/gZsMXXfe3EmxQvwQb1L8NNv49t9PF2RWxwNeF3z3YjJFiR57O95UqzLIKNcb2MXT20NfWW9bmssiZX8/H+Jfb3X74oX2xNp4WQxYHBajlzLR3zIzxemLAeaIh1u6ZFx7FAuzBf1M3zQL+dwX+iyshNf4/g5zCqHhdg65YIBORIKjhsMDwZQhYm0WUwpmI74rn/CyzHOKmhSSTenOdu4ovZRSYoB/AuXdPNXnX4u/jkTQYKUTf3Yw2g70qjizKixdJaDAXjsPFe9GVmw9AZtJrWF22YOymjaqbKCImLS6jqFBzalI8GbGII5Z2vBruOxLuK65DlKKU2wFj8XUL6qvyewNdr8bqjsTqqvT5wcgl5980HkW1gxK7sjPmS3SmMn4s18UES+9WLM2+UP7GymTh46qV6W4nXtWe4164a81ksHndr8qZetJgs9RpHlHnKzBJtTyjIB/XxMWx42V/9/t/7W63nP81DbO2/88hp/BJXFWUeVeO9t8VuHkz0rxAQwucemt8iK5HEqEVdgl3hVcogoJpJFAacQH28gJofrNJeHyUu8x3eBPuPo0zOEqtcWaq3wBbBqWYomhaRhMDMqcLcZ8003SRoZcXwtWGobmssOeDfssyRGipZVqAf7csh6mMOvoNMqkM6tYVd2VYLH9Ycir23rfppTnIXGUBoNcGL8nnB7F8fV3FXxd3CsWFCXwcz43Nu07lNO16BjYut226Oi71mS3Tv/6kVcgAH2Se0lzo42PfOZq9motD9kKlsN0yKyukDMQyX+3Vm1chKiF2VB0C5HuWtTP/Kz5vxv/0ntE7AeuovVLyg+O/Wn9T17wFORIL2Gf/O0Z3K//ftmr7/xxyCjefrkeZ4b+9Hg8Lrp38JYIIAXwT5jGlAMoaN9NfLqyyJL8IAKg8fyE5L2Ky65QKiVgiQ8Qq58JmYLaqHD5TOuLGAVdr910YKmV5zHKWxyg8tR3BRs5KybwQaYjGgqmIeYgjkjXlMx6fVRMAU/ryhrE79Ccknb/9St9IrQaIim/O9jrg+LoTs3waTatzoA+ejkTwAeMgU2/KIMHTjtJ80VH+iLxA4b+B+B/ed8Vvjp7eBuy7/9XtmeX8X8eq83/PIoj/o/tu/ks+b0qbpdRYE32xuU/vc+dPXrGY4aGdkOnXLfw20aAPnUl/2NOHw371z8vaJc9rkXpeC1fLms2+V3liVfHWLYRad8MYDnf9OuwICapNvTt+EfUEen9ErKqlllpqqaWWWmqppZZaaqmlllpqqaWWWv6Y/A7HxzaTAFAAAA==" | base64 -d | tar xzf -
# Addresses of the corpus are routed into a dummy device: checks time out
# (connect_timeout >= 2 s) instead of failing at once.
ip link add dummy0 type dummy; ip link set dummy0 up
for n in 10.0.0.0/8 172.16.0.0/12 192.0.2.0/24 198.51.100.0/24 203.0.113.0/24; do ip route add $n dev dummy0; done
ip -6 route add 2001:db8::/32 dev dummy0
ip addr add 10.72.0.254/32 dev dummy0
for f in dr-web-farm tun-smtp fwmark-dns macros-groups include-main mixed-methods persistent-voip; do
  echo "=== $f"
  keepalived -t -f /tmp/corpus/$f.conf > /tmp/t.out 2>&1; echo "keepalived -t exit $?"
  grep -iE 'error|warn|unknown' /tmp/t.out | head -5
  ipvsadm -C
  keepalived -C -n -l -f /tmp/corpus/$f.conf > /tmp/k_$f.out 2>&1 &
  KP=$!
  i=0; prev=x
  while [ $i -lt 40 ]; do
    cur=$(ipvsadm -Sn | md5sum)
    if [ "$(ipvsadm -Sn | wc -l)" -gt 0 ] && [ "$cur" = "$prev" ]; then break; fi
    prev=$cur; i=$((i+1)); sleep 0.2
  done
  ipvsadm -Sn
  kill $KP; wait $KP 2>/dev/null
  ipvsadm -C
done

echo "=== reload"
cat > /tmp/c.sh <<'S'
#!/bin/sh
read s < /tmp/st_$1
exit $s
S
chmod 755 /tmp/c.sh
for x in 1 2 3 4; do echo 0 > /tmp/st_$x; done
rs() { # addr weight checker-arg
cat <<R
  real_server 10.0.3.$1 80 {
    weight $2
    MISC_CHECK {
      misc_path "/tmp/c.sh $3"
      warmup 0
    }
  }
R
}
conf() {
  echo 'global_defs { router_id lab }'
  echo 'virtual_server 10.0.0.3 80 {'
  echo '  delay_loop 1'
  echo '  lb_algo rr'
  echo '  protocol TCP'
  cat
  echo '}'
}
{ rs 1 1 1; rs 2 2 2; rs 3 1 3; } | conf > /tmp/r.conf
keepalived -C -n -l -f /tmp/r.conf > /tmp/kr.out 2>&1 &
KP=$!
show() { echo "--- $1"; ipvsadm -Sn; }
sleep 4; show "start"
echo 1 > /tmp/st_1; sleep 4; show "rs1 failing"
{ rs 1 1 1; rs 2 5 2; rs 4 1 4; } | conf > /tmp/r.conf
kill -HUP $KP; sleep 4; show "reload: rs1 same check, rs2 weight 5, rs3 removed, rs4 added"
{ rs 1 1 "1 changed"; rs 2 5 2; rs 4 1 4; } | conf > /tmp/r.conf
kill -HUP $KP; sleep 0.5; show "reload: rs1 check changed (0.5 s)"; sleep 4; show "rs1 check changed (4.5 s)"
{ rs 1 1 1; rs 2 5 2; rs 4 1 4; echo '  lb_algo nosuch'; } | conf > /tmp/r.conf
kill -HUP $KP; sleep 3; show "reload with an error"
kill $KP; sleep 2
echo "--- keepalived log"
grep -E 'service|Removing|Adding|Reload|nosuch|sched|rror|Checker|weight' /tmp/kr.out | grep -v Activating | head -60

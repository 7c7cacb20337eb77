#!/bin/sh
# Real keepalived 2.2.7: start-up tables of include-main.conf and
# tun-smtp.conf taken one second after start (checks time out after 10 s
# into a dummy device), with the thresholds (ipvsadm -S does not save them).
modprobe ip_vs
mkdir -p /tmp/k && cd /tmp/k
echo "H4sIAAAAAAAAA+1bbW/byBHOZ/2KsWsgdiHKJCXqLQhQI0l7Ri+OGuv6qYCwIlciG4rL45JW1MD97Z1dLkWKoiylkBUfwkmCSMvlzuzbM8/MrmwWhQm/diJtSafajESLls2C2atjio7S7XTk/yjl/ztWr/3KsNq6bhmWqbdf6UZHx+qgH9WKHZLwmEQAryLG4qfq7Xv+B5UzuAHHi6gdaxFLYi+YAy4EEAthCL+MxyMggSM/3AML8C+Ff96OmjBjSSRrcho90Ig3G2dg+x4NYgjxq8djGtgUpiu4NjtN2cDkbx/GsPRiF+IlgyTyOVwSwOGPEy61kAA+vrewIcebUx5fNeH+/tf8rXXdiARz+kbakmoHJyJeQB20KoIFfkTlBNVjU5dL6s3dGHRsTbzwb+YFopNeAMQPXQIL5tC0fS9wvakXT1gwmRHPTyLaajTmPpsSf+LQGYdvDUARw0SjieeAP5WbxpDFAYu9mWeT2MP3KRrhq/pCWMj/Qr+SRejTVkBjWf6447XJLGKLddtbr/FFHE5Utw2z19Lxj5E/wc0b4GROYm9B0VBo643HRuPBi+IEu6Hew00m3jLaLUOHvq4MdahPVhOfsRC6ssCfTog/Z7D07ez7Fw/n6f1n+bUwzwV1+tazOc5X4pPIi1dgWlYr+6dqRixmNvNh/G4kC5StLuMxLJfLVnEA0gmgeU8MvdXFnmBf8n4IUbNu6OuS9QrMKwnBZVgqkUYRXA/XLiqK3f9sPU2XIQ41rhxT1zeePx7cumjFs699NmetMJhv1Uo3AQymbaLbfYv0+z1iWl2nO2gPHPxGyNTp284T2rfWwsbTiMbRqlSWLoEpxX1EJ2kFc13hsbBsK+fAfJFzcOpRaG+Owp8ycBriXoeALjODcMPzJuAUk6nvcRfRC/GJwwzxibvlQTz6GB46Rnu726mcdGtdIFF2/W0bY1/q4sg6vgc9O532NnyqJX96/HwKH3NLC/NU2JyZrz368GvmYPAdU2AdvvbMP3CnHhs/mvpJsVP+P1suSPRFcwJ+fPq/j/8b3Y61xf/1Xs3/TyFn8P4Omb3YVr+9T8k+AgkQLtnyDCODJfF9TawOSbY9JPWXsUtBlCBtjwQHj5HnI9cWxdkbkopPGe6oDKA4MnDbpfYX9HSSb6PiybtfPrz7+xtB7VccmRBucwRRbGptkKyJpmghwTdj4NiEk/iCwgtbsUraRmsLptMlDVYFPlsb8BxFZXSuQpy+JNpG3l4RcNYF6z6V8CVehRTuP91sFAZkQSGjtyyatyqYyUHEI7XN/PG2bTvL1DrEarCQKuzzlCVHeXcz3vRxON2yAOOpXZNkClW5rsJI5OauV01pJMqofejgmy1zh07jCDqf1VMo/PcC208cqong+egeYA/+6+1eAf87hsD/tl7nf04ief4H8XqJQTfNYJ6D7z1QkShJPYGPeEBsF5LAwYUv1kjLuW6K3eCk8E8CUMsIRNbkDWJ15IUxhygJhEPB50kQRt4DNjVHJ5CgIpEgcuiMJH68P9mCratkS9ryRLYQsClzVrKYBhhL0Yl6yqmdCNIsUCkzTJn9Z7nGXwYD+7Gi9v+C2BHj2hzHOzw6BdzH/yyrsP8Nuf+tdrfe/6eQM/iEu5uEoa+SkBAydLRhkiclkJ3JjCuwGRDHiSjnVCVs13QPt79gW01Y4o7DsDXlbSGJkEbgBuZDrLvATe5pSN2odKHr3C0VKQ+hGhuJaIjcgApEgf/ef/hHEz7e3r9TjlO2ufC4PXFWyE88W3lZ3sTWf09YlCxUphhb4ixCiqJ0fKFhDCReZ1MQ6QSeJQEiiAOXsq5y6ROVorhCPLoYffr06+Tuw/gt+vkBkpjGxc1oNBl9+jx+29f7euNCGvb2OuHRtc9s4l9PveAaR1OTTDet/vn+LfxrizlcfMsaf2xdfLt7xIKs7Uf4pl4oMIlOoagwJsWaQuTwyEj2/OKbrPIImiaTqVsaNS1kUVxUfF7V2jo3UfUwm4n80aP6vMUFJxJdxFpT4G4MzJYkbBhOG7rIHspiRdwHRgWdLDexk9QvS6x+i0pm6Wa1bvryi7viuFop97jiYcWVAekiGLQGICe//DxbOY2GWLmXd00wmtC+ArUIXkrEvykZ/ntfqaPhXnWZc3r87/XK/M8y2jX+n0JS/M8ie1wGIrLG2H1JIkd8VEtCJCQ3UPuSgAQ8sbGky5AEULiEiC5YjE16scR5Ea9D7OK+nYsjvDjBcMe/EoiteF8GcCKNgM4mdsWxndr2SpuorfQKfBdglGYShB3+kqw4JCG26ZIJT3hIA6eZGlP2A5k9gnVK0gvq0HM7fYCbvSfzvNCvzPF2/j+42YhFc3srwQb1S7BB/dtg4z/wSTo5uzIW+LqIuwebOVI05Hixr1RhllWoPrafQ2cPY229ZW1Oixz5fDzGv93tjsMPtcXaeFpMWRyUoJYj094xMsbLyQEr/F+fN8TaA/PC43qAPfhv6qZZwP8u4r9l6DX/P4mcwah4XYOuWCAPIkFQw2GB4csUsDaLKIVzkd8Vz/l55jnETQtJJvVmfnYVX8ksMME4gHPvgWryrsVfxyPpMFKIvr8dbSZ7VR5ZlBcvktBgLgKHy3fClNv3QGYyalhdtWDspo2qmygiJy0uo6hUc+pSPJmxiCOWGl4N9x0J9xXXIUpZyu2Esfi6BfVV53sDXa/G6o7E6qrj84ORS46/aTyJagcd7EpjzB9hTGX+WM6LCZberZiafan8jZnJ0sdVM9PdPnhVa4574a45k8nm3K7KkTpqslnqNJ9R5wtwSbWcUJT/R1quiftjz3D6uz/+65h5/q8r839t5AG1/z+FnMFHcVVRnrty9P+uwM3bkeYFGnrgNFrjQww9kgi9sEu4K6JCkRRMM4HSiQuwlxdA1zebRMRHuct8hzfh/uM4g6PUG2eu+jWwZVDKKYqmZTYxIHO6EPdJM02XGXp5IVxvOJqrCn8+6LcsQ6SWWqYF+HfLc5jKqWPcIA+VQd264q5Mi60floKKvfdteukZ5FplAaBzh5esxwexPL+u4ufFnUJxYQCfxnNj865T+Zg2H4GNy22boY5LfTaRx7/+tFU4AT7IPaVnoU/3fWdv9moudtkLlcJ2y6yskDIQy7QOHbGf0gUq/FfnYs+jQ4B8z7J2nv+Kz5v4b5rt9iuwnsecTfnJ8X9z/k1d8xbk2Cxgv/8vz3/HrH//cRo5g9uPN6PM8d/djIeF0E7+EkGkAL4K95hSAOWNm+kvF1bZIb9IAKhz/sLhvMjJ5kcqJGKJTBGrMxc2A7NVFfCZMhA3Drhau+/CUOmUxyyf8hiFpxNHsJHz0mFeiDREY4Etch5ib2RN+YzH59UEwJSxvGHsTv0JScdvv9LXUqsBouLr870BOL7uxGw9jKbV+X7GYBzk602ZJThuN80f282fyvVL2cR/A/E/fOiKnx4d0Qfsu//V7XUK+K8L/O91rRr/TyGI/6OH7vqXfJ5Nm6WjsSbGYnOfPqyDP3nFYoZ7dkrsL1v4baJDHzrT/rCnD4f96p+XtUuR1yKNvBauljWbfa+KxKryrVsAlZthDIe7fh323YdCFdHC04p3/CTqGIp/PqyqpZZaaqmlllpqqaWWWmqppZZaaqmlllq+T/4HbTEsJwBQAAA=" | base64 -d | tar xzf -
ip link add dummy0 type dummy; ip link set dummy0 up
for n in 10.0.0.0/8 172.16.0.0/12 192.0.2.0/24 198.51.100.0/24 203.0.113.0/24; do ip route add $n dev dummy0; done
ip -6 addr add 2001:db8:ffff::1/128 dev dummy0 nodad
ip -6 route add 2001:db8::/32 dev dummy0
ip addr add 10.72.0.254/32 dev dummy0
for f in include-main tun-smtp; do
  echo "=== $f"
  ipvsadm -C
  keepalived -C -n -l -f /tmp/k/corpus/$f.conf > /tmp/k_$f.out 2>&1 &
  KP=$!
  sleep 2
  ipvsadm -Sn
  [ $f = tun-smtp ] && ipvsadm -ln --thresholds
  kill $KP; wait $KP 2>/dev/null
  grep -iE 'error|warn|fail|Removing' /tmp/k_$f.out | head -8
done

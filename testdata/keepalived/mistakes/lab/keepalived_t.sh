#!/bin/sh
# Real keepalived 2.2.7: keepalived -t on the mistake files; the start-up
# table of include-main.conf (IPv6 checks time out into a dummy device that
# has an IPv6 address) and the thresholds of tun-smtp.conf (ipvsadm -S does
# not save thresholds).
modprobe ip_vs
mkdir -p /tmp/k && cd /tmp/k
echo "H4sIAAAAAAAAA+1cbXPbNhLOZ/8K2JeZ2DeiTFKkZKmTmcskuWvmGsdXu/fpZlRIhCSeKYIlSCtqxvfbbxcEKb7JUlKZcRpu26kFkgAIYJ99drHglIdBLM6dUFuxiTaj4bI75f7s2SFFB+lblvw/SPn/lj3oPTPsnq7bhm3qvWe6YelwO9EP2ostEouIhoQ8CzmPHrpv1/VvVI7JK+K4IZtGWsjjyPXnBBYCwYUwIj/e3FwR6jvyj2vCffiXkX+/u+qQGY9Deadg4R0LRefomEw9l/kRCeCnKyLmTxmZrMm5aXVkBeN/vL0hKzdakGjFSRx6gpxSAsMfxUK2Qn3y/o0NFTnunInorEOur3/aPJXdG1J/zn6QfUlaJ05IXZ850KuQLOFPaJxC81DV6Yq580VEdKgNH/gvd318Sdcn1AsWlCy5w5L6XX/hTtxozP3xjLpeHLLu0dHc4xPqjR02E+TTEQHBYWLh2HWIN5FKY8hin0fuzJ3SyIXnGXTCU/ej8ED8jX2ky8BjXZ9Fsvx+y2PjWciXWd2Vx8QyCsbqtQ1z0NXhH2NzBZTXh8kcR+6SQUdJTz+6Pzq6c8MohtdQz4GS4VNGr2vo5EJXHXWYR9djj/OA9GWBNxlTb87Jypumv29dmKc3P8ufuXnONadXrs1hvmKPhm60JqZtd9P/1J0hj/iUe+Tm9ZUsUH1dcBGR1WrVzQ9AMgFs8yaG3u3Dm8C7bN4DRc26oWcl2Qrc3IQCy7BUIjtFYT2cL6ChaPF75WqyDGGoYeWYul64fr937ViLOz33+Jx3A39euStRAjKc9Kg+vbDpxcWAmnbf6Q97Qwd+UTpxLqbOA61X1kLhasiicF0qS5bAhIEesXFyg5ndcJ9btrVzYD7JOWh6FHrFUfhLCk4j0HXis1XaIVB40SEwxXTiuWIB6AX4JMgM8EksyoN48DHcd4x2vq5VO+l2ViBRNvtVxdinujjSF9+BnpbVq8KnWvLN4+dD+LjpaW6ecsqZ2tqDD79mDoefMQX2/mvP/IZf6v7oa1M/KdOE/89WSxreao4vDk//d/F/o2/ZFf6vD1r+34QckzeXwOxRrX55k5B9ABJChWTLM/AMVtTzNFwdkmy7QOpPowUjWAK0PUQOHgHPB66NxekTkopPOGhUClACGPh0waa3YOkk34aGx69/fPv6nz8gtV8LYEKg5gCiUFXWIXkndEULKDwZEQFVOLGHFB77CrckdXQrMJ0saWLX4LNdgOcwLKNzHeJcSKJtbOrLA05WkL1TCV+idcDI9YdXhUKfLhlJ6S0P590aZrIX8Uj6Zn79vlWNZdI7wGpiA1XYZSlLhvLy1U3RxsF0ywLwp7ZNkolNbdrKjcSmu9mqKY1EGbX3HXyza25p0zhAm49qKRT+u/7Uix2mofN8cAuwA//13iCH/5aB+N/T2/hPI7KJ/wBer8DpZinMC+K5dwwDJYkl8AAP6HRBYt+BhY9rpOucd1AbnAT+qU/UMiIYNfkBsDp0g0iQMPbRoMD12A9C9w6qmoMRiKEhDBA5bEZjL9odbIHaVbAlqXksa/D5hDtrWcx88KXYWF0VbBojaUZUSjumuv1XucafBgP7uqL0f0mnIRfaHMY7ODgF3MX/bDun/4bUf7vXb/W/CTkmH0C7aRB4KghJAg6GNog3QQlgZzLiSviMUMcJmRBMBWwzugfqj2yrQ1agceC2JrwtoCHQCFBgMYJ7l6DkrgbUjUkTmsVuGYY8sGmoJGQBcAOGiEL+d/32Xx3y/t31a2U4ZZ1LV0zHzhr4iTtVVlZ0oPbfYh7GSxUphpoED4GiqDZuWRARGmXRFEA6xLPYBwRxyKm8V5n0sQpRnAEePb/68OGn8eXbm5dg54dAYo6ev7q6Gl99+Pnm5YV+oR89lx17eR6L8NzjU+qdT1z/HEZTk0w3uf3n65fkPxXm8PxTWvl99/mny3soSOu+J5/UAzkmYeWKcmOSvxNFDo/0ZE+ef5K33BNNk8HUSouaFvAwyjd8UldbFpuou5jOxObSvfq7wgXHEl1wrSlwN4ZmVxI2cKcNHaOHslgR96FRQyfLVWwl9asSq69QyTTcrNbNhfyxWAtYrUy4QvGw/MogySIYdodETn75erpyjo5w5Z5edojRIb0zohbBU/H4i5Liv/uRORro6oI7zeP/YFDmf7bRa/G/CUnwP/XsYRmgZw2++4qGDv6plgQGJAuofUqJBDxULGkyJAFEkxCyJY+gSjeSOI/+OokWoLdz3MKLYnB3vDNEbMX7UoDDMAIYm2iB23ZK7VVreLdqF/EdwSiJJGA/vBVdCxIHUOeCjkUsAuY7naQzZTuQ9gdZpyS9RG16VsMHoOwDGeclF7UxXuvL4Kbgi276Wws20L4EG2i/CjbenRgnk7MtYgGPo989LMZIoSOH831lE2a5CfWOvcdocwC+tt61i9MiR34zHje/XG73w/fti124mg9Z7BWgliPT2zIyxtOJASv8z/YbIu2Ou8FhLcAO/Dd108zhfx/w3zb0lv83IsfkKp+uwdbclxuRBKnhKMfwZQhYm4WMkROM7+J1cZJaDsy0kGRS72z2rqIzGQWm4AcI4d4xTeZa/P3mShqMBKKv310Vg70qjozl+UQS5s/RcTh9jV1594bQmfQa1mddcrNIKlWZKBiTxmQUFWpOTIorIxZRyJOO18O9JeG+Jh2iFKWsBozxZwXq6/b3hrpej9WWxOq67fO9kUuOv2k8iGp7bezKzphfozO18WM5Lyax9X7N1OwK5RdmJg0f181Mv7rxqtaccINtcyaDzZt+1Y7UQYPNsk3zEdt8AiaplQZF2X+g5Rrmjz3C7u9u/6/X75f2f3u2abf2vwk5Ju8xVVHuuwqw/wvEzXdXmutrYIETb02MwPWIQ7DCCyoW6BViUDCJBEojjmAvE0CzzCb0+JhYcM8RHXL9/iaFo8Qap6b6BeErvxRTxKplNNGnc7bEfNK0pdMUvdyAnBcMzVmNPR9edG0DQ0td0ybwb8VymMqog98gN5WJyroSCxkWyy6WnIqd+TaDZA8yazIH0BuDF2fjA1i+SVfxNsVWrjg3gA/juVHMdSpv025GoJDcVnR1FszjY7n96026uR3gvcxTshf68LtvfZudLedf2Q1Ug72uWXtDwkAASFob94Ao/Ff7Yo/TBoL8wLa37v/i38X4n2n2zGfEfpzuFOU7x//i/Ju65i7poVnALvtvGf1y/Ne09db+NyHH5N37V1ep4b98dTPKuXbyJAKGAD6ieUwogLLGneTkwjrd5McAgNrnz23OY0x2s6VCQx7LELHac+EzYnbrHD5TOuLGHqm1uxKGSrs8ZnmXx8hdHTvIRk5Km3kB0BCN+1OMeaBupFV5XEQn9QTAlL68YWwP/aEk47e70ReyVYPgjS9Odjrg8LgT8WwYTdva0wdP3gT5gLGXqTdlkOCwb2l+1bf8HnlBEf8NwP/gro9Hjw5oA3blf/UHZhn/B/12/68RAfy/uutnJ/ncKeuUtsY64IvNPXaXOX8yxWIGSjuh09sKfptg0EfO5GI00Eeji/rjZb2S57VMPK/lQkurTX/XeWJ18dYKQm26YYxG206HPcIGVbHdLSeiDtDuobBq6cL6v2XifEIdOdrN5//rPdvI9N9O4j8Dq83/b0Qw/1N6yrjMgJAlmV7JTr5artGCRgS4EphyKPTj5YSFdbRNT3bL0wVfislXKFmJTyRJ4phYs1VjanmILmlInZotGL1bf8emfS8p6L86XAHT2+T+r27ag5L+WwOr3f9tRFD/s2lPVN3hLFF29hEWx+doOrp3IQduvp9TtgUBnnS+xJ9NMv1fRFGgJYccNWkEDocBu/Tftsr23+5j/K/V/8cX0H8/+c5H/uMaWRo3cnFMBUzzvdVHCfKU4P0bG0ztx8djBA8R6C8+NF65WDjfOxxq5XPjKOrt4a01qiU/CvfcPxpNfzTJ9F/6/a6P/r/VbPxXN/t22f5bbf5vMyL1X4YA8tm9+HUcWWzJ/F4VGfh8Ff8sCpC5zqOWBTQmmf7DH8L155o6KXdICNil/0a/zP/tXnv+qxk5lumTatKd7CjoGqN9+MEaee5zSaOpDP1h7gZY0YiFfnfHaU08vZOeukxPlLYnL5+cZPofrQOu3bL1iodOw/bf7lkV/99o43+NCPr/CP0B8yKipp+cSjPO52fI8cWtGwTpNzsoAW8AP6A3SvK40sgBHrSJMIMMS9ODPacrb3qGH/fIGph4fHpLTpXVB6NfaQEqciOBJ9EBd+Tt+7IO/HrIF7COvQIPuYd2hh2/LZqS6X8MWM0Fc7Rk0A+JALv037LMsv032u9/NiOJ/Z+5Ifi1ebVINBVdfLnik7Uxkrr56/2veEERxq/j9++7cVY+YrD35sG3pcVfLjn9lwfxAQDkGesm+X/P6lX5f+v/NyJo/4uHbfHTT/LzWuqwfT7Wp5YIOU0t+llZ/dUhf8wnKB/yx/P99/UH+lcT9jhY8edX4D8oOf0H1w0mnkYAAb/FPDpcCGCn/a/w/74+aPW/EUH9L2Ryqo9AocFHFJAr4aub+4eyCCm4HxHRtKWYkxehSDII/zBR+F6AI9P/31nINZmjpWGOVqP2v1eO/9tmm//XjBzn8/J0tcvnszmN8ONvMlN2D5XP19E05U+yebU2nbeVVlpppZVWWmmllVZaaaWVVlpppZVWWmmlIP8HuBNVTgB4AAA=" | base64 -d | tar xzf -
for f in mistakes/*.conf; do
  echo "=== $f"
  keepalived -t -f /tmp/k/$f > /tmp/t.out 2>&1; echo "keepalived -t exit $?"
  grep -v -E '^\s*$' /tmp/t.out | head -12
done
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
  i=0; prev=x
  while [ $i -lt 40 ]; do
    cur=$(ipvsadm -Sn | md5sum)
    if [ "$(ipvsadm -Sn | wc -l)" -gt 0 ] && [ "$cur" = "$prev" ]; then break; fi
    prev=$cur; i=$((i+1)); sleep 0.2
  done
  ipvsadm -Sn
  [ $f = tun-smtp ] && ipvsadm -ln --thresholds
  kill $KP; wait $KP 2>/dev/null
  grep -iE 'error|warn|fail|Removing' /tmp/k_$f.out | head -8
done

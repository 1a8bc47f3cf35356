"""Locust users for ``bench/api_load.py``: search (weight 3) and classify (weight 2) against the HTTP API.

    .venv/bin/locust -f bench/locustfile.py --headless -u 50 -r 50 -t 60s --host http://127.0.0.1:8000

Environment:

- ``RADAR_BENCH_KEYS``: a JSON file ``{"keys": ["dr_...", ...]}``; each user takes the next key
  (round robin), so the per-key rate limit behaves as with one key per client in production.
  ``RADAR_BENCH_KEY`` (one key for every user) is the fallback.
- ``RADAR_BENCH_THINK``: think time between a user's requests, ``MIN,MAX`` seconds (default ``0.5,1.5``).
- ``RADAR_BENCH_TIMEOUT``: seconds before a request counts as failed (default 30).
- ``RADAR_BENCH_CSV``: a prefix; when locust quits, the final statistics are written to
  ``PREFIX_final_stats.csv`` and ``PREFIX_final_failures.csv`` (the same columns as ``--csv``).
  ``--csv``'s own files are a snapshot taken when the run time is up, so they miss the requests
  that users finish during ``--stop-timeout``: the slowest ones.

Requests are named ``search`` and ``classify`` so locust groups its statistics per endpoint;
any non-2xx answer is a failure.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import random
from pathlib import Path

import gevent
from locust import HttpUser, between, events, task
from locust.env import Environment
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

SEARCHES = [
    ("流量", []),
    ("流量 扣费", []),
    ("流量包", ["intent:投诉"]),
    ("套餐", []),
    ("套餐 降档", []),
    ("资费套餐 变更", ["source:tickets"]),
    ("宽带", []),
    ("宽带 断网", ["source:calls"]),
    ("宽带 安装 师傅", []),
    ("5G", []),
    ("5G 信号", ["intent:投诉"]),
    ("5G套餐", ["source:forum"]),
    ("扣费", []),
    ("乱扣费 退费", ["source:tickets"]),
    ("话费 账单", []),
    ("信号", []),
    ("信号差 没有信号", ["region:广州"]),
    ("携号转网", []),
    ("携号转网 限制", ["intent:投诉"]),
    ("国际漫游", []),
    ("副卡", ["source:forms"]),
    ("积分 兑换", []),
    ("营销短信 骚扰", []),
    ("10086 人工 打不通", ["source:calls"]),
    ("营业厅 态度", []),
    ("充值 没到账", []),
    ("彩铃 取消", ["intent:投诉"]),
    ("不知情 定制 业务", []),
    ("合约机 违约金", []),
    ("网速慢", ["region:深圳"]),
    ("", ["intent:建议"]),
    ("", ["source:tickets", "intent:投诉"]),
]

TEXTS = [
    "我的5G套餐每个月扣58元，可是流量根本不够用，月中就限速了，太坑了，要求退还多扣的费用。",
    "请问现在有没有便宜一点的流量包？我每个月大概用30G，想换个合适的套餐。",
    "家里宽带这几天老是断网，晚上看视频一直卡，报修三次了师傅还没上门，非常不满意。",
    "话费无缘无故多扣了15元，查了账单说是订了什么增值业务，我从来没有办理过，要求退费并取消。",
    "小区里手机信号特别差，在家打电话都断断续续的，5G更是完全没有信号，希望尽快建个基站。",
    "我想办理携号转网，营业厅说我有合约限制不能转，合约到底什么时候到期？",
    "建议APP上增加查询每天流量使用明细的功能，现在只能看到总数，不知道流量用在哪里了。",
    "出国去泰国旅游，想开通国际漫游，请问日套餐怎么收费，到了当地需要设置什么吗？",
    "每天收到好几条营销短信，还有外呼推销升级套餐，已经说了不需要还一直打，严重骚扰。",
    "营业厅工作人员态度很差，办个副卡等了一个多小时，问问题也爱理不理的。",
    "在APP上充值100元，钱已经扣了，可是话费一直没到账，客服说要等24小时，这也太慢了吧。",
    "彩铃我根本没有开通，这个月账单上却有彩铃功能费，要求查明原因，如不处理我将向工信部投诉。",
    "合约机还有半年到期，现在想改成低档的套餐，说要交违约金，当初办理的时候根本没说清楚。",
    "10086人工客服一直打不通，排队排了二十分钟，最后还是自动挂断了。",
    "积分快要过期了，请问可以兑换什么？积分商城里的东西都缺货。",
    "宽带到期了想续费，能不能和手机套餐融合，有没有优惠？",
    "晚上八点以后网速特别慢，网页都打不开，测速只有几百K，这是什么原因？",
    "办了亲情网之后，家里人之间打电话还是扣费了，不是说互打免费吗？",
    "老人手机被开通了好几个业务，每月多扣三十多块，老人根本不会用，属于不知情定制。",
    "魔百和电视盒子经常卡顿，看直播的时候一直转圈，重启也没有用。",
    "希望能推出学生专属的大流量卡，价格便宜一点，现在的套餐对学生来说太贵了。",
    "我的号码停机了，明明余额还有二十块，为什么会停机？",
    "5G手机在地铁里一直显示4G，5G信号覆盖什么时候能完善？我办的是5G套餐，等于白交钱了。",
    "流量超出了套餐，一下子扣了好多钱，也没收到提醒短信，为什么没有超额提醒？",
    "想咨询一下怎么把套餐从128元改成58元，下个月生效可以吗？要去营业厅办理吗？",
    "装修后想把宽带移机到新地址，请问移机要收费吗，多久能装好？",
    "手机丢了，需要补办一张SIM卡，身份证不在身边可以办理吗？",
    (
        "客户来电反映，上个月在营业厅办理了188元的5G套餐，当时工作人员承诺前三个月半价并赠送宽带，"
        "但本月账单仍按原价收取，宽带也一直没有安装。客户多次拨打10086未得到解决，情绪激动，"
        "要求按承诺退还差价、尽快安装宽带，否则将向工信部申诉。"
    ),
    (
        "我是老用户了，用了十几年的号码，最近发现新用户办的套餐比我便宜一半，流量还多。"
        "打电话问能不能换成同样的套餐，客服说只限新用户，老用户只能办更贵的，这样对老用户太不公平了，希望能给老用户一些优惠。"
    ),
    (
        "建议：现在携号转网的流程太复杂了，要先发短信查询资格，再去营业厅核验身份，"
        "很多老年人根本弄不明白。希望能在APP上一站式办理，并且把合约、欠费等限制条件一次性告诉用户。"
    ),
    "客户反映在广州天河区室内信号弱，通话经常中断，要求尽快处理并给予补偿。",
]


def _keys() -> list[str]:
    path = os.environ.get("RADAR_BENCH_KEYS")
    if path:
        return list(json.loads(Path(path).read_text(encoding="utf-8"))["keys"])
    return [os.environ.get("RADAR_BENCH_KEY", "")]


def _think() -> tuple[float, float]:
    low, _, high = os.environ.get("RADAR_BENCH_THINK", "0.5,1.5").partition(",")
    return float(low), float(high or low)


KEYS = _keys()
TIMEOUT = float(os.environ.get("RADAR_BENCH_TIMEOUT", "30"))
NEXT_KEY = itertools.count()


ENVIRONMENT: list[Environment] = []


@events.init.add_listener
def _keep_environment(environment: Environment, **_: object) -> None:
    ENVIRONMENT.append(environment)


@events.quit.add_listener
def _final_csv(**_: object) -> None:
    prefix = os.environ.get("RADAR_BENCH_CSV")
    if not prefix or not ENVIRONMENT:
        return
    writer = StatsCSV(ENVIRONMENT[0], PERCENTILES_TO_REPORT)
    for name, write in (("stats", writer.requests_csv), ("failures", writer.failures_csv)):
        with open(f"{prefix}_final_{name}.csv", "w", encoding="utf-8", newline="") as fh:
            write(csv.writer(fh))


class RadarUser(HttpUser):
    wait_time = between(*_think())

    def on_start(self) -> None:
        self.client.headers["X-API-Key"] = KEYS[next(NEXT_KEY) % len(KEYS)]
        # clients arrive over one think time, as people do, instead of all 50 firing in the same
        # millisecond (that herd alone filled the p99 with its own queue)
        gevent.sleep(random.uniform(0, _think()[1]))

    def _check(self, response) -> None:  # type: ignore[no-untyped-def]
        if not 200 <= response.status_code < 300:
            reason = getattr(response, "error", None) or (response.text or "")[:200]  # error: a timeout or refused connection
            response.failure(f"HTTP {response.status_code}: {reason}")
        else:
            response.success()

    @task(3)
    def search(self) -> None:
        q, filters = random.choice(SEARCHES)
        params = [("q", q), ("limit", "20"), *(("filter", f) for f in filters)]
        with self.client.get("/search", params=params, name="search", timeout=TIMEOUT, catch_response=True) as response:
            self._check(response)

    @task(2)
    def classify(self) -> None:
        body = {"text": random.choice(TEXTS)}
        with self.client.post("/classify", json=body, name="classify", timeout=TIMEOUT, catch_response=True) as response:
            self._check(response)

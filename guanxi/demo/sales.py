"""The demo shop's B2B sales: per unit a pipeline, company accounts whose contacts are customers (some
of them online buyers too), leads in every state, opportunities in every stage (won ones with their
orders in commerce, lost ones with a reason, stale ones flagged by the rulebook), activities with the
sales rep's day planned, quotas and plans, competitors, quotes, a web form, a transfer waiting for
the group, and an inactive rep.

Everything goes through the sales actions, back-dated with their `at`/`done_at` arguments, so the
demo's records are exactly what the product would have written. Deterministic for a seed and anchor.
"""

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from guanxi.accounts.models import BusinessUnit, User
from guanxi.commerce.models import OrderLine, Product
from guanxi.customers.models import CustomerUnit, Identity
from guanxi.demo.reference import unit_cost_cents
from guanxi.demo.seasons import SHANGHAI
from guanxi.sales.actions import accounts, activities, configuration, leads, opportunities, targets
from guanxi.sales.actions.rulebook import flag_stale_records
from guanxi.sales.models import Competitor, Lead, Opportunity, Stage
from guanxi.sales.rulebook import month_start

# fmt: off
# (unit code, company, industry, city)
ACCOUNTS = {
    "home": (
        ("云栖精品酒店集团", "酒店", "杭州"), ("海岸线度假酒店", "酒店", "三亚"), ("悦居公寓管理", "长租公寓", "上海"),
        ("青禾月子中心", "母婴护理", "南京"), ("华庭物业服务", "物业", "苏州"), ("启航科技", "企业福利", "深圳"),
        ("望京养老服务中心", "养老", "北京"), ("蓝湾民宿联盟", "民宿", "厦门"),
    ),
    "beauty": (
        ("丽人坊美容连锁", "美容院", "上海"), ("悦颜SPA会所", "SPA", "成都"), ("沐光医美诊所", "医美", "广州"),
        ("花间美甲工作室", "美甲", "杭州"), ("星耀婚庆服务", "婚庆", "武汉"), ("雅致酒店", "酒店客房洗护", "西安"),
        ("晨曦健身俱乐部", "健身", "深圳"), ("芳华企业工会", "节日福利", "上海"),
    ),
}
COMPETITORS = {
    "home": (("洁雅布草", "价格低，交期快", "面料克重不稳定"), ("恒温家纺", "酒店客户多", "定制周期长"),
             ("舒眠酒店用品", "一站式采购", "售后响应慢")),
    "beauty": (("美丽源化妆品批发", "品类全", "正品保障弱"), ("悦肤专业线", "院线品牌授权", "起订量高"),
               ("花漾集采", "账期灵活", "物流慢")),
}
PEOPLE = ("赵敏", "钱程", "孙悦", "李想", "周洁", "吴桐", "郑凯", "王芳", "冯磊", "陈晨", "褚燕", "卫东", "蒋雯",
          "沈涛", "韩雪", "杨帆", "朱琳", "秦朗", "许诺", "何欢", "吕婷", "施展", "张弛", "孔洁")
TITLES = ("采购经理", "行政主管", "店长", "运营总监", "总经理", "客房部经理", "工会主席")
SUBJECTS = {
    "call": ("电话确认需求", "回访报价意见", "跟进样品反馈", "确认交期"),
    "visit": ("上门拜访", "门店实地查看", "送样品"),
    "meeting": ("方案讲解会", "商务谈判", "年度合作洽谈"),
    "email": ("发送报价单", "发送产品目录", "确认合同条款"),
    "task": ("准备投标文件", "整理客户需求", "申请特价"),
}
# fmt: on


@dataclass(frozen=True)
class SalesDemo:
    leads: int
    opportunities: int
    won: int
    activities: int
    accounts: int


def load_sales_demo(anchor: datetime | None = None, *, seed: int) -> SalesDemo:
    """Load the B2B sales of a demo shop already loaded (its units, users and catalogue); history ends
    at `anchor` (default: now)."""
    anchor = anchor or timezone.now().astimezone(SHANGHAI).replace(second=0, microsecond=0)
    rng = random.Random(seed * 7 + 16)
    users = {
        user.username: user
        for user in User.objects.filter(
            username__in=[
                "sales",
                "sales_home",
                "sales_idle",
                "sales_lead",
                "head_home",
                "head_beauty",
                "manager",
            ]
        )
    }
    counts = {"leads": 0, "opportunities": 0, "won": 0, "activities": 0, "accounts": 0}
    for unit in BusinessUnit.objects.filter(code__in=ACCOUNTS).order_by("code"):
        _UnitDemo(unit, users, rng, anchor, counts).load()
    other = BusinessUnit.objects.filter(code="home").first()
    moving = Lead.objects.filter(unit__code="beauty", status="new").order_by("pk").first()
    if other is not None and moving is not None and moving.owner is not None:
        leads.request_transfer(
            moving, to_unit=other, reason="客户要采购酒店布草，属于家居板块", actor=moving.owner
        )
    flag_stale_records(now=anchor)
    _cost_won_orders()
    return SalesDemo(**counts)


def _cost_won_orders() -> None:
    """The orders won deals booked carry the catalogue's unit costs too (as the merchant's ERP would
    give them), so the margin report covers the B2B sales; SKUs without a cost stay without one."""
    prices = dict(Product.objects.values_list("sku", "price"))
    uncosted: dict[str, list[int]] = {}
    for pk, sku in OrderLine.objects.filter(unit_cost__isnull=True, sku__in=prices).values_list("pk", "sku"):
        uncosted.setdefault(sku, []).append(pk)
    for sku, ids in uncosted.items():
        cost = unit_cost_cents(sku, int(prices[sku] * 100))
        if cost is not None:
            OrderLine.objects.filter(pk__in=ids).update(unit_cost=Decimal(cost).scaleb(-2))


class _UnitDemo:
    def __init__(
        self, unit: BusinessUnit, users: dict[str, User], rng: random.Random, anchor: datetime, counts: dict
    ) -> None:
        self.unit, self.rng, self.anchor, self.counts = unit, rng, anchor, counts
        self.today = timezone.localtime(anchor, SHANGHAI).date()
        if unit.code == "beauty":
            self.reps = [users["sales"], users["sales_idle"]]
            self.manager = users["sales_lead"]
        else:
            self.reps = [users["sales_home"]]
            self.manager = users["head_home"]
        self.active = [rep for rep in self.reps if rep.username != "sales_idle"]
        self.phones: set[str] = set()

    def ago(self, days: float, hour: int = 10) -> datetime:
        day = self.today - timedelta(days=int(days))
        return datetime.combine(day, time(hour, self.rng.choice((0, 15, 30, 45))), tzinfo=SHANGHAI)

    def phone(self) -> str:
        while True:
            number = f"1{self.rng.choice('38')}{self.rng.randint(0, 9)}{self.rng.randint(10000000, 99999999)}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def load(self) -> None:
        unit = self.unit
        pipeline = configuration.create_pipeline(
            unit=unit, name="大客户销售" if unit.code == "home" else "渠道与机构客户"
        )
        configuration.update_rules(
            unit,
            actor=None,
            stale_after_days=30 if unit.code == "beauty" else 21,
            return_stale_to_pool=unit.code == "home",
            inactive_after_days=14,
            commission_rate=Decimal("0.0300") if unit.code == "beauty" else Decimal("0.0250"),
        )
        for name, strengths, weaknesses in COMPETITORS[unit.code]:
            configuration.create_competitor(
                unit=unit, actor=None, name=name, strengths=strengths, weaknesses=weaknesses
            )
        configuration.create_lead_form(
            unit=unit,
            actor=None,
            name="官网合作咨询",
            heading="企业采购与合作咨询",
            introduction="留下联系方式，我们的客户经理会在一个工作日内联系您。",
            consent_text="我同意关系优品就本次咨询与我联系。",
            thank_you="感谢留言！客户经理将尽快与您联系。",
        )
        self.stages = list(pipeline.stages.order_by("position"))
        self.products = list(
            Product.objects.filter(sku__startswith="HM" if unit.code == "home" else "BT").order_by("sku")[:12]
        )
        self.known_buyers = self._online_buyers()
        self._accounts_and_deals(pipeline)
        self._leads()
        self._targets()
        self._today()

    def _online_buyers(self) -> list[str]:
        """Phones of a few of the unit's online customers: they turn up as B2B contacts too."""
        linked = CustomerUnit.objects.filter(unit=self.unit).values("customer_id")
        phones = list(
            Identity.objects.filter(
                kind=Identity.Kind.PHONE, customer_id__in=linked, customer__owner__isnull=True
            )
            .order_by("customer_id")
            .values_list("value", flat=True)[:3]
        )
        return [phone.removeprefix("+86") for phone in phones]

    def _accounts_and_deals(self, pipeline) -> None:
        open_stages = [s for s in self.stages if s.kind == Stage.Kind.OPEN]
        won = next(s for s in self.stages if s.kind == Stage.Kind.WON)
        lost = next(s for s in self.stages if s.kind == Stage.Kind.LOST)
        plan = ["won", "won", "lost", "open", "open", "stale", "open", "won"]
        for index, (company, industry, city) in enumerate(ACCOUNTS[self.unit.code]):
            rep = self.reps[index % len(self.reps)]
            created = self.ago(150 - index * 12)
            phone = self.known_buyers[index] if index < len(self.known_buyers) else self.phone()
            lead = leads.capture_lead(
                unit=self.unit,
                actor=rep,
                source=self.rng.choice(("referral", "trade_show", "inbound_call")),
                name=PEOPLE[index],
                company=company,
                title=TITLES[index % len(TITLES)],
                phone=phone,
                at=created,
            ).lead
            self.counts["leads"] += 1
            self._log(rep, lead=lead, at=created + timedelta(days=1))
            done = leads.convert_lead(
                lead,
                actor=rep,
                amount=Decimal(self.rng.randrange(20, 400) * 500),
                opportunity_name=f"{company} {self.today.year} 年度采购",
                at=created + timedelta(days=2),
            )
            accounts.update_account(done.account, actor=None, industry=industry, city=city)
            if index % 3 == 0:
                accounts.add_contact(
                    account=done.account,
                    actor=rep,
                    name=PEOPLE[-1 - index],
                    phone=self.phone(),
                    title="财务主管",
                    role="influencer",
                )
            self.counts["accounts"] += 1
            assert done.opportunity is not None  # converted with an opportunity
            deal = Opportunity.objects.get(pk=done.opportunity.pk)
            for product in self.rng.sample(self.products, k=min(2, len(self.products))):
                opportunities.add_line(
                    deal, actor=rep, product=product, quantity=self.rng.choice((50, 100, 200, 300))
                )
            self._walk(deal, rep, plan[index], open_stages, won, lost, created)
        for number in range(6):  # deals without an account: a person buying for a small business
            rep = self.active[number % len(self.active)]
            deal = opportunities.create_opportunity(
                unit=self.unit,
                name=f"{PEOPLE[8 + number]} 团购",
                actor=rep,
                amount=Decimal(self.rng.randrange(4, 60) * 500),
                stage=open_stages[number % len(open_stages)],
                expected_close=self.today + timedelta(days=7 + 9 * number),
                forecast_category="commit" if number == 1 else "",
                at=self.ago(60 if number == 4 else 40 - number * 5),
            )
            self.counts["opportunities"] += 1
            if number != 4:  # the fifth is left without activity: the rulebook flags it
                self._log(rep, opportunity=deal, days=number + 1)

    def _walk(self, deal, rep, fate: str, open_stages, won, lost, created) -> None:
        """Move a converted deal along its stages with activities, to its fate."""
        self.counts["opportunities"] += 1
        steps = {
            "won": len(open_stages),
            "lost": 2,
            "open": self.rng.randint(1, len(open_stages) - 1),
            "stale": 1,
        }[fate]
        moment = created + timedelta(days=3)
        for stage in open_stages[1:steps]:
            moment += timedelta(days=self.rng.randint(5, 12))
            deals_at = min(moment, self.ago(35 if fate == "stale" else 2))
            deal = opportunities.move_opportunity(deal, stage, actor=rep, at=deals_at)
            self._log(rep, opportunity=deal, at=deals_at - timedelta(hours=2))
        if fate in ("won", "lost") or deal.stage.kind != Stage.Kind.OPEN:
            when = min(moment + timedelta(days=6), self.ago(self.rng.randint(1, 20)))
            if fate == "won":
                opportunities.create_quote(
                    deal, actor=rep, kind="bid" if self.rng.random() < 0.5 else "quote"
                )
                opportunities.move_opportunity(
                    deal, won, actor=self.manager if rep.username == "sales_idle" else rep, at=when
                )
                self.counts["won"] += 1
            else:
                competitor = self.unit_competitor()
                opportunities.link_competitor(
                    deal, competitor, actor=rep, threat="high", their_price=deal.amount * Decimal("0.9")
                )
                opportunities.move_opportunity(
                    deal,
                    lost,
                    actor=rep,
                    lost_reason="competitor",
                    lost_note=f"{competitor.name} 报价低 10%",
                    at=when,
                )
            return
        opportunities.update_opportunity(
            deal,
            actor=None,
            expected_close=self.today + timedelta(days=self.rng.randint(3, 50)),
            next_step="安排样品确认" if fate == "open" else "",
        )
        if fate == "stale":  # nothing logged for five weeks: the rulebook flags it
            return
        opportunities.create_quote(deal, actor=rep, valid_until=self.today + timedelta(days=30))

    def unit_competitor(self) -> Competitor:
        return Competitor.objects.filter(unit=self.unit).order_by("pk")[0]

    def _log(self, rep, *, lead=None, opportunity=None, days: float = 0, at: datetime | None = None) -> None:
        if rep.username == "sales_idle":  # the inactive rep last logged something weeks ago
            at = min(at or self.ago(days), self.ago(25))
        kind = self.rng.choice(tuple(SUBJECTS))
        activities.log_activity(
            actor=rep,
            kind=kind,
            subject=self.rng.choice(SUBJECTS[kind]),
            lead=lead,
            opportunity=opportunity,
            done_at=at or self.ago(days, hour=self.rng.choice((9, 11, 14, 16))),
        )
        self.counts["activities"] += 1

    def _leads(self) -> None:
        """Leads in every state: new (from the web form, the API, a file), working, qualified, disqualified."""
        states = [
            "new",
            "new",
            "new",
            "working",
            "working",
            "qualified",
            "qualified",
            "disqualified",
            "disqualified",
            "new",
        ]
        sources = [
            "web_form",
            "api",
            "import",
            "manual",
            "referral",
            "trade_show",
            "inbound_call",
            "web_form",
            "api",
            "web_form",
        ]
        reasons = ["no_budget", "not_a_fit"]
        for number, (state, source) in enumerate(zip(states, sources, strict=True)):
            owner = self.active[number % len(self.active)] if number != 9 else None
            created = self.ago(30 - number * 3)
            captured = leads.capture_lead(
                unit=self.unit,
                actor=owner,
                owner=owner,
                source=source,
                name=PEOPLE[(number + 5) % len(PEOPLE)],
                company=f"{self.rng.choice(('瑞丰', '嘉禾', '金穗', '鼎盛', '华美'))}{self.rng.choice(('商贸', '酒店', '会所', '集团'))}{number}号",
                phone=self.phone(),
                estimated_amount=Decimal(self.rng.randrange(10, 200) * 500),
                at=created,
                external_id=f"demo-{self.unit.code}-{number}" if source in ("api", "import") else "",
            )
            lead = captured.lead
            self.counts["leads"] += 1
            if owner is None:  # left in the unit's pool for its sales manager to hand out
                leads.assign_lead(lead, None, actor=None)
                continue
            if state != "new":
                self._log(owner, lead=lead, days=max(0, 28 - number * 3))
            if state == "qualified":
                leads.qualify_lead(lead, actor=owner)
            elif state == "disqualified":
                leads.disqualify_lead(lead, actor=owner, reason=reasons[number % 2])

    def _targets(self) -> None:
        month = month_start(self.today)
        for rep in self.reps:
            targets.set_quota(
                unit=self.unit,
                user=rep,
                month=month,
                amount=Decimal(200000 if rep in self.active else 80000),
                actor=None,
            )
            targets.set_plan(
                unit=self.unit,
                user=rep,
                month=month,
                actor=None,
                planned_calls=40,
                planned_visits=12,
                planned_meetings=6,
                planned_opportunities=5,
                notes="重点跟进年度采购客户，月底前完成两个投标。",
            )

    def _today(self) -> None:
        """The day of each active rep: two activities due today, one overdue, one planned next week; and
        the sales manager's own recent calls on the team's biggest deals."""
        if self.manager.username == "sales_lead":
            for days, biggest in enumerate(
                Opportunity.objects.filter(
                    unit=self.unit, status="open", last_activity_at__gte=self.ago(14)
                ).order_by("-amount")[:2],
                start=1,
            ):
                activities.log_activity(
                    actor=self.manager,
                    kind="meeting",
                    subject="陪同拜访，推进商务谈判",
                    opportunity=biggest,
                    done_at=self.ago(days, hour=16),
                )
                self.counts["activities"] += 1
        for rep in self.active:
            deal = (
                Opportunity.objects.filter(owner=rep, status="open").order_by("expected_close", "pk").first()
            )
            lead = Lead.objects.filter(owner=rep, status="working").order_by("pk").first()
            start = datetime.combine(self.today, time(0), tzinfo=SHANGHAI)
            for hours, kind, subject, about in (
                (10, "call", "确认样品反馈", {"opportunity": deal}),
                (15.5, "visit", "上门洽谈年度合同", {"opportunity": deal}),
                (-20, "call", "回电：询问价格", {"lead": lead}),
                (24 * 6 + 10, "meeting", "方案讲解会", {"opportunity": deal}),
            ):
                due = start + timedelta(hours=hours)
                if all(value is None for value in about.values()):
                    continue
                activities.log_activity(
                    actor=rep,
                    kind=kind,
                    subject=subject,
                    done=False,
                    due_at=due,
                    reminder_at=due - timedelta(minutes=15) if hours > 0 else None,
                    **about,
                )
                self.counts["activities"] += 1

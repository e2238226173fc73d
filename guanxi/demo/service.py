"""The demo shop's customer service: per unit a desk (round robin among two agents, a support address,
business hours over China's holiday calendar, SLA targets, canned replies in Chinese and English) and
three months of tickets from its buyers in every state of the process — queued, assigned, in progress,
waiting on the customer, resolved and archived — with replies, notes, SLA breaches, follow-up calls,
CSAT answers behind a satisfaction index per month, NPS answers, and a transfer waiting for a unit.

Everything goes through the service actions with their `now` arguments, so the records are exactly
what the product would have written. Deterministic for a seed and anchor.
"""

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.utils import timezone

from guanxi.accounts import actions as account_actions
from guanxi.accounts.models import BusinessUnit, User
from guanxi.accounts.roles import Role
from guanxi.commerce.models import Order
from guanxi.customers.models import Customer
from guanxi.demo.seasons import SHANGHAI
from guanxi.service import actions, china_holidays
from guanxi.service.models import AssignmentMode, FollowUp, Status, Survey, Ticket

# fmt: off
# (type, complaint reason, subject, what the customer said, the agent's answer)
CASES = {
    "home": (
        ("inquiry", "", "四件套尺寸咨询", "1.8米的床用哪个尺寸的被套？", "1.8米床建议选200×230cm被套，枕套48×74cm。"),
        ("inquiry", "", "发票开具", "请问可以开增值税专用发票吗？", "可以，请提供抬头和税号，我们3个工作日内开出。"),
        ("after_sales", "", "毛巾洗后掉色", "新买的毛巾第一次洗就掉色了。", "非常抱歉，请拍照发给我们，为您免费换新。"),
        ("after_sales", "", "申请退货", "枕芯太高了，想退货。", "已为您开通退货，请7天内寄回，运费我们承担。"),
        ("complaint", "logistics", "三天未发货", "下单三天了还没发货，很着急。", "已催促仓库，今天下午发出，单号稍后短信给您。"),
        ("complaint", "product", "被子有异味", "收到的羽绒被有明显异味。", "抱歉给您带来不便，已安排换货并补偿20元优惠券。"),
        ("complaint", "service", "客服回复太慢", "昨天留言到现在才有人理。", "非常抱歉，我们已增加晚间值班客服。"),
        ("suggestion", "", "希望增加颜色", "希望床品能多出几个莫兰迪色系。", "感谢建议，已转给产品部门。"),
    ),
    "beauty": (
        ("inquiry", "", "是否适合敏感肌", "这款精华敏感肌可以用吗？", "可以，建议先在耳后试用24小时。"),
        ("inquiry", "", "保质期咨询", "开封后能保存多久？", "开封后建议12个月内用完，避光保存。"),
        ("after_sales", "", "收到的口红断了", "口红收到时已经断成两截。", "非常抱歉，已为您补发一支新的。"),
        ("after_sales", "", "过敏申请退款", "用了面霜脸上起红疹。", "请先停用，我们为您办理退款，并安排专人回访。"),
        ("complaint", "logistics", "快递送错地址", "快递员放到了别的小区。", "已联系快递公司找回，今天内送达。"),
        ("complaint", "price", "刚买就降价", "昨天买的今天就降价50元。", "已为您申请价格保护，差价退回原支付账户。"),
        ("complaint", "payment", "重复扣款", "付款时扣了两次钱。", "已核实重复扣款，2小时内原路退回。"),
        ("suggestion", "", "小样装需求", "希望能出旅行装小样。", "好建议，已反馈给商品团队。"),
    ),
}
CANNED = (
    ("问候", "您好，这里是关系优品客服，很高兴为您服务。", "Hello, this is Guanxi customer service. How can we help?"),
    ("催发货", "已为您催促仓库，今天内发出，单号将短信通知您。", "We have asked the warehouse to ship today; you will get the tracking number by SMS."),
    ("退换货", "已为您开通退换货，请在7天内寄回，运费由我们承担。", "Your return is open: please send it back within 7 days, postage on us."),
)
NOTES = ("已与仓库确认", "客户是老客，优先处理", "需要质检报告", "已登记到售后台账")
AGENTS = {"home": ("kefu_home", "周小雨"), "beauty": ("kefu_beauty", "许晴")}
# Satisfied more often than not (the seed's overall 83%); a few low scores that call for a follow-up.
CSAT_SCORES = (5, 5, 5, 4, 4, 4, 5, 4, 3, 5, 2, 4, 5, 1, 4)
NPS_SCORES = (10, 9, 9, 8, 7, 10, 6, 9, 3, 10, 8, 9)
# fmt: on


@dataclass(frozen=True)
class ServiceDemo:
    tickets: int
    surveys_answered: int
    breached: int


def load_service_demo(anchor: datetime | None = None, *, seed: int) -> ServiceDemo:
    """Load the service desk of a demo shop already loaded (its units, users and orders); history ends
    at `anchor` (default: now)."""
    anchor = anchor or timezone.now().astimezone(SHANGHAI).replace(second=0, microsecond=0)
    rng = random.Random(seed * 11 + 15)
    service = User.objects.get(username="service")
    units = list(BusinessUnit.objects.filter(code__in=CASES).order_by("code"))
    for unit in units:
        _UnitDesk(unit, service, rng, anchor).load()
    home = next((u for u in units if u.code == "home"), None)
    moving = Ticket.objects.filter(unit__code="beauty", status=Status.ASSIGNED).order_by("pk").first()
    if home is not None and moving is not None:
        actions.request_transfer(moving, home, actor=moving.assignee, reason="客户问的是床品，属于家居板块")
    actions.scan_sla(now=anchor)
    return ServiceDemo(
        tickets=Ticket.objects.count(),
        surveys_answered=Survey.objects.filter(answered_at__isnull=False).count(),
        breached=Ticket.objects.filter(resolution_breached_at__isnull=False).count()
        + Ticket.objects.filter(first_response_breached_at__isnull=False).count(),
    )


class _UnitDesk:
    def __init__(self, unit: BusinessUnit, service: User, rng: random.Random, anchor: datetime) -> None:
        self.unit, self.rng, self.anchor = unit, rng, anchor
        self.head = User.objects.get(username=f"head_{unit.code}")
        username, name = AGENTS[unit.code]
        self.agents = [
            service,
            account_actions.create_user(
                username=username, password=None, role=Role.SERVICE_AGENT, units=[unit], display_name=name
            ),
        ]
        self.today = timezone.localtime(anchor, SHANGHAI).date()

    def at(self, days_ago: int, hour: int) -> datetime:
        day = self.today - timedelta(days=days_ago)
        moment = datetime.combine(day, time(hour, self.rng.choice((0, 10, 20, 35, 50))), tzinfo=SHANGHAI)
        return min(moment, self.anchor - timedelta(hours=2))

    def load(self) -> None:
        unit, head = self.unit, self.head
        actions.save_settings(
            unit,
            actor=head,
            assignment=AssignmentMode.ROUND_ROBIN,
            support_address=f"kefu@{unit.code}.guanxi-demo.cn",
            opens=time(9),
            closes=time(21) if unit.code == "beauty" else time(18),
            weekdays="0123456" if unit.code == "beauty" else "01234",
            warn_minutes=60,
        )
        for year in sorted({self.today.year - 1, self.today.year, self.today.year + 1}):
            if china_holidays.days_of(year):  # a year not in the table yet: the weekly rhythm only
                actions.load_china_holidays(unit, year, actor=head)
        actions.save_policy(
            unit, actor=head, ticket_type="complaint", priority="high", first_response=30, resolution=240
        )
        actions.save_policy(
            unit, actor=head, ticket_type="after_sales", priority="normal", first_response=120, resolution=960
        )
        for title, zh, en in CANNED:
            actions.save_canned_reply(unit, actor=head, title=title, body_zh=zh, body_en=en)
        buyers = list(
            Order.objects.filter(unit=unit, customer__isnull=False)
            .order_by("-placed_at", "pk")
            .values_list("customer_id", "pk")[:400]
        )
        seen: dict[int, int] = {}
        for customer_id, order_id in buyers:
            seen.setdefault(customer_id, order_id)
        people = list(seen.items())[:70]
        customers = {c.pk: c for c in Customer.objects.filter(pk__in=[pk for pk, _o in people])}
        orders = {o.pk: o for o in Order.objects.filter(pk__in=[o for _c, o in people])}
        for index, (customer_id, order_id) in enumerate(people):
            self.ticket(index, customers[customer_id], orders[order_id])
        nps = [customers[pk] for pk, _o in people[: len(NPS_SCORES)]]
        for index, customer in enumerate(nps):
            sent = self.at(20 + index, 10)
            survey = actions.send_survey(
                unit=unit, kind=Survey.Kind.NPS, customer=customer, actor=head, now=sent
            )
            actions.answer_survey(survey, score=NPS_SCORES[index], now=sent + timedelta(hours=5))

    def ticket(self, index: int, customer, order) -> None:
        rng = self.rng
        ticket_type, reason, subject, said, answer = CASES[self.unit.code][index % len(CASES[self.unit.code])]
        # The newest dozen are still open in every state; older ones were handled and mostly archived.
        days_ago = 1 + index // 3 if index < 12 else index * 90 // 70
        opened = self.at(days_ago, rng.choice((9, 10, 11, 14, 15, 16, 20)))
        priority = "high" if ticket_type == "complaint" else rng.choice(("normal", "normal", "low", "high"))
        channel = rng.choice(("phone", "chat", "wechat", "email", "chat"))
        stage = index % 12 if index < 12 else 12
        ticket = actions.open_ticket(
            actor=self.agents[0],
            unit=self.unit,
            subject=subject,
            customer=customer,
            ticket_type=ticket_type,
            priority=priority,
            channel=channel,
            complaint_reason=reason,
            body=said,
            orders=[order] if ticket_type in ("after_sales", "complaint") else [],
            now=opened,
        )
        if stage == 0:  # still in the queue: nobody on it yet
            actions.assign(ticket, None, actor=self.head, now=opened + timedelta(minutes=1))
            return
        agent = ticket.assignee or self.agents[0]
        if stage == 1:
            return  # assigned, not started
        slow = stage in (2, 3) or rng.random() < 0.15
        first = opened + timedelta(
            minutes=rng.choice((4, 9, 15, 25)) if not slow else rng.choice((90, 200, 400))
        )
        first = min(first, self.anchor - timedelta(minutes=30))
        actions.transition(ticket, "start", actor=agent, now=first - timedelta(minutes=2))
        if stage in (2, 3):
            return  # in progress, late on its first answer: the scan flags it
        actions.reply(ticket, answer, actor=agent, now=first, wait=stage in (4, 5))
        if stage in (4, 5):
            return  # waiting on the customer
        if rng.random() < 0.4:
            actions.add_note(ticket, rng.choice(NOTES), actor=agent, now=first + timedelta(minutes=5))
        if stage in (6, 7):
            return  # in progress after the first answer
        resolved = first + timedelta(hours=rng.choice((1, 2, 3, 5, 20, 30)))
        actions.transition(
            ticket, "resolve", actor=agent, now=min(resolved, self.anchor - timedelta(hours=1))
        )
        if stage < 12:
            return  # resolved within the last days, waiting to be archived
        closed = resolved + timedelta(days=1)
        actions.transition(ticket, "close", actor=agent, now=closed)
        survey = Survey.objects.filter(ticket=ticket).first()
        if survey is not None and rng.random() < 0.8:
            actions.answer_survey(
                survey,
                score=CSAT_SCORES[index % len(CSAT_SCORES)],
                comment=rng.choice(("", "", "处理很快", "态度很好", "还可以")),
                now=closed + timedelta(hours=rng.choice((1, 3, 8))),
            )
        for follow_up in FollowUp.objects.filter(ticket=ticket, done_at__isnull=True):
            if follow_up.due_at < self.anchor - timedelta(days=1):
                actions.complete_follow_up(
                    follow_up,
                    actor=agent,
                    outcome=rng.choice(("satisfied", "satisfied", "unsatisfied", "unreachable")),
                    notes="电话回访",
                    now=follow_up.due_at,
                )

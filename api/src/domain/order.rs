//! The order state machine (DESIGN §4), pure: `transition(status, action, actor, facts)` gives
//! the next status and the side effects to run, or a typed refusal. Services persist an outcome
//! with one conditional update; `available_actions` derives what a viewer may do from the same
//! function, so clients never copy the rules.
use super::money::Settlement;

/// The statuses and payment modes are the stored vocabulary (SeaORM active enums in the
/// entity crate); the rules about them live here.
pub use entity::orders::{OrderStatus, PaymentMode};
use sea_orm::{ActiveEnum, Iterable};

/// Every status, for tables and property tests.
pub fn all_statuses() -> Vec<OrderStatus> {
    OrderStatus::iter().collect()
}

/// The money has been captured and not yet settled.
pub fn is_captured_open(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::Claimed
            | OrderStatus::InProgress
            | OrderStatus::Delivered
            | OrderStatus::Disputed
    )
}

/// Money was captured in this status (or was, and has been settled): a chargeback can reach it.
pub fn has_captured(status: OrderStatus) -> bool {
    is_captured_open(status) || matches!(status, OrderStatus::Completed | OrderStatus::Refunded)
}

/// No further transition except a chargeback.
pub fn is_closed(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::Completed
            | OrderStatus::Cancelled
            | OrderStatus::PaymentFailed
            | OrderStatus::Refunded
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    Buyer,
    Provider,
    Admin,
    System,
    Processor,
}

pub use entity::disputes::DisputeReason;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// processor: the card is authorized (`payment_intent.amount_capturable_updated`)
    AuthorizationSucceeded,
    /// processor: the payment failed
    PaymentFailed,
    /// processor: the intent was canceled at Stripe (expired or canceled outside the platform)
    PaymentCanceled,
    /// buyer (MANUAL): says it paid
    MarkPaid,
    /// provider (MANUAL): confirms the money arrived
    ConfirmPayment,
    /// buyer: before the claim, or late after it (refund)
    Cancel,
    /// system: unpaid for 24 h
    ExpireUnpaid,
    /// provider: refuses a paid order
    Decline,
    /// system: not claimed 12 h before the authorization expires
    ReleaseUnclaimed,
    Claim,
    Start,
    Deliver,
    RequestRevision,
    Complete,
    /// system: the buyer did not act before `auto_complete_at`
    AutoComplete,
    /// system: the SLA deadline passed (recorded, status unchanged)
    MarkLate,
    OpenDispute(DisputeReason),
    ResolveRefund,
    ResolveNoRefund,
    /// refund this many cents; the rest is split by commission
    ResolvePartial(i64),
    /// processor: the card network opened a dispute on the charge (`charge.dispute.created`)
    Chargeback,
    /// processor: the chargeback was won; the order returns to where it stood
    ChargebackWon(OrderStatus),
    /// processor: the chargeback was lost; the buyer has the money back through the bank
    ChargebackLost,
}

impl Action {
    /// A stable name for order events and idempotency keys.
    pub fn name(self) -> &'static str {
        match self {
            Action::AuthorizationSucceeded => "authorization_succeeded",
            Action::PaymentFailed => "payment_failed",
            Action::PaymentCanceled => "payment_canceled",
            Action::MarkPaid => "mark_paid",
            Action::ConfirmPayment => "confirm_payment",
            Action::Cancel => "cancel",
            Action::ExpireUnpaid => "expire_unpaid",
            Action::Decline => "decline",
            Action::ReleaseUnclaimed => "release_unclaimed",
            Action::Claim => "claim",
            Action::Start => "start",
            Action::Deliver => "deliver",
            Action::RequestRevision => "request_revision",
            Action::Complete => "complete",
            Action::AutoComplete => "auto_complete",
            Action::MarkLate => "mark_late",
            Action::OpenDispute(_) => "open_dispute",
            Action::ResolveRefund => "resolve_refund",
            Action::ResolveNoRefund => "resolve_no_refund",
            Action::ResolvePartial(_) => "resolve_partial",
            Action::Chargeback => "chargeback",
            Action::ChargebackWon(_) => "chargeback_won",
            Action::ChargebackLost => "chargeback_lost",
        }
    }
}

/// What the machine needs to know about an order besides its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub payment_mode: PaymentMode,
    /// frozen at placement
    pub price_cents: i64,
    pub commission_bps: u32,
    pub revisions_used: i32,
    pub revisions_included: i32,
    /// now is past the SLA deadline
    pub is_late: bool,
    /// a chargeback is open at the payment processor
    pub chargeback_open: bool,
}

/// A side effect of a transition, run after the status change commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// cancel the authorization; no money moved
    ReleaseAuthorization,
    /// capture the authorized payment (ledger CHARGE)
    Capture,
    /// refund, fee and transfer of the captured charge
    Settle(Settlement),
    InvoicePendingConfirmation,
    InvoicePaid,
    InvoiceVoid,
    /// sla_deadline = now + turnaround
    StartSla,
    /// auto_complete_at = now + auto-complete days
    StartAutoComplete,
    /// no timer runs while an order is disputed
    StopTimers,
    CountRevision,
    /// a chargeback froze the order: no payout leaves until it closes
    OpenChargeback,
    /// the chargeback closed: payouts may leave again
    CloseChargeback,
    /// recover whatever payout already left (a transfer reversal)
    ReverseTransfer,
    /// a won chargeback: pay out again what `ReverseTransfer` recovered
    RepayTransfer,
    /// auto_complete_at = now + auto-complete days, `delivered_at` kept
    RestartAutoComplete,
    /// a lost chargeback: payouts held are not made, the commission is given up and what was
    /// left of the charge is recorded as taken by the card network
    ChargebackLoss,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub to: OrderStatus,
    pub effects: Vec<Effect>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// the action does not apply in this status
    InvalidState {
        from: OrderStatus,
        action: &'static str,
    },
    /// this actor may not take this action
    NotAllowed {
        actor: Actor,
        action: &'static str,
    },
    /// only for the other payment mode
    WrongPaymentMode,
    RevisionsExhausted,
    /// NON_DELIVERY disputes and cancelling after the claim need the SLA deadline passed
    NotLate,
    /// a partial refund must be 1 ..= price - 1
    InvalidRefund,
    /// before the delivery, a dispute can only be about non-delivery
    NotDeliveredYet,
    /// the payment processor is handling a chargeback on this order
    ChargebackOpen,
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::InvalidState { from, action } => {
                format!(
                    "cannot {} an order that is {}",
                    action.replace('_', " "),
                    from.to_value()
                )
            }
            Refusal::NotAllowed { action, .. } => {
                format!("you may not {} this order", action.replace('_', " "))
            }
            Refusal::WrongPaymentMode => "not for this order's payment mode".to_owned(),
            Refusal::RevisionsExhausted => "every included revision has been used".to_owned(),
            Refusal::NotLate => "only once the order is past its deadline".to_owned(),
            Refusal::NotDeliveredYet => {
                "before a delivery, a dispute can only be for NON_DELIVERY".to_owned()
            }
            Refusal::InvalidRefund => {
                "the refund must be between 1 and the price minus 1".to_owned()
            }
            Refusal::ChargebackOpen => {
                "a chargeback on this order is open at the payment processor; it decides first"
                    .to_owned()
            }
        }
    }
}

fn who(action: Action) -> &'static [Actor] {
    use Action::*;
    match action {
        AuthorizationSucceeded
        | PaymentFailed
        | PaymentCanceled
        | Chargeback
        | ChargebackWon(_)
        | ChargebackLost => &[Actor::Processor],
        MarkPaid | Cancel | RequestRevision | Complete | OpenDispute(_) => &[Actor::Buyer],
        ConfirmPayment | Decline | Claim | Start | Deliver => &[Actor::Provider],
        ExpireUnpaid | ReleaseUnclaimed | AutoComplete | MarkLate => &[Actor::System],
        ResolveRefund | ResolveNoRefund | ResolvePartial(_) => &[Actor::Admin],
    }
}

/// The next status and effects of `action` by `actor` on an order in `from`, or why not.
pub fn transition(
    from: OrderStatus,
    action: Action,
    actor: Actor,
    facts: &Facts,
) -> Result<Outcome, Refusal> {
    use Effect::*;
    use OrderStatus::*;
    let name = action.name();
    if !who(action).contains(&actor) {
        return Err(Refusal::NotAllowed {
            actor,
            action: name,
        });
    }
    let invalid = Err(Refusal::InvalidState { from, action: name });
    let to = |to: OrderStatus, effects: Vec<Effect>| Ok(Outcome { to, effects });
    let manual_only = || {
        if facts.payment_mode == PaymentMode::Manual {
            Ok(())
        } else {
            Err(Refusal::WrongPaymentMode)
        }
    };
    if facts.chargeback_open
        && matches!(
            action,
            Action::ResolveRefund | Action::ResolveNoRefund | Action::ResolvePartial(_)
        )
        && from == Disputed
    {
        return Err(Refusal::ChargebackOpen);
    }
    match (from, action) {
        (Placed, Action::AuthorizationSucceeded) => {
            if facts.payment_mode != PaymentMode::Stripe {
                return Err(Refusal::WrongPaymentMode);
            }
            to(PaymentHeld, vec![])
        }
        (Placed, Action::PaymentFailed) => to(PaymentFailed, vec![InvoiceVoid]),
        // Nothing left to release: the processor already canceled the intent.
        (Placed | PaymentHeld, Action::PaymentCanceled)
            if facts.payment_mode == PaymentMode::Stripe =>
        {
            to(Cancelled, vec![InvoiceVoid])
        }
        (Placed, Action::MarkPaid) => {
            manual_only()?;
            to(Placed, vec![InvoicePendingConfirmation])
        }
        (Placed, Action::ConfirmPayment) => {
            manual_only()?;
            to(PaymentHeld, vec![InvoicePaid])
        }
        (Placed | PaymentHeld, Action::Cancel) => {
            to(Cancelled, vec![ReleaseAuthorization, InvoiceVoid])
        }
        (Claimed | InProgress, Action::Cancel) => {
            if !facts.is_late {
                return Err(Refusal::NotLate);
            }
            to(
                Refunded,
                vec![Settle(Settlement::refund_all(facts.price_cents))],
            )
        }
        (Placed, Action::ExpireUnpaid) => to(Cancelled, vec![ReleaseAuthorization, InvoiceVoid]),
        (PaymentHeld, Action::Decline) | (PaymentHeld, Action::ReleaseUnclaimed) => {
            to(Cancelled, vec![ReleaseAuthorization, InvoiceVoid])
        }
        (PaymentHeld, Action::Claim) => {
            let mut effects = vec![StartSla];
            // MANUAL orders were paid outside the platform: nothing to capture.
            if facts.payment_mode == PaymentMode::Stripe {
                effects.insert(0, Capture);
                effects.insert(1, InvoicePaid);
            }
            to(Claimed, effects)
        }
        (Claimed, Action::Start) => to(InProgress, vec![]),
        (Claimed | InProgress, Action::Deliver) => to(Delivered, vec![StartAutoComplete]),
        (Delivered, Action::RequestRevision) => {
            if facts.revisions_used >= facts.revisions_included {
                return Err(Refusal::RevisionsExhausted);
            }
            to(InProgress, vec![CountRevision])
        }
        (Delivered, Action::Complete) | (Delivered, Action::AutoComplete) => to(
            Completed,
            vec![Settle(Settlement::complete(
                facts.price_cents,
                facts.commission_bps,
            ))],
        ),
        (Claimed | InProgress, Action::MarkLate) => {
            if !facts.is_late {
                return Err(Refusal::NotLate);
            }
            to(from, vec![])
        }
        // After the delivery, any reason; before it, only NON_DELIVERY, and only once the
        // order is past its deadline.
        (Delivered, Action::OpenDispute(_)) => to(Disputed, vec![StopTimers]),
        (Claimed | InProgress, Action::OpenDispute(reason)) => {
            if reason != DisputeReason::NonDelivery {
                return Err(Refusal::NotDeliveredYet);
            }
            if !facts.is_late {
                return Err(Refusal::NotLate);
            }
            to(Disputed, vec![StopTimers])
        }
        (Disputed, Action::ResolveRefund) => to(
            Refunded,
            vec![Settle(Settlement::refund_all(facts.price_cents))],
        ),
        (Disputed, Action::ResolveNoRefund) => to(
            Completed,
            vec![Settle(Settlement::complete(
                facts.price_cents,
                facts.commission_bps,
            ))],
        ),
        (Disputed, Action::ResolvePartial(refund)) => {
            if !super::money::is_partial_refund(refund, facts.price_cents) {
                return Err(Refusal::InvalidRefund);
            }
            to(
                Completed,
                vec![Settle(Settlement::partial(
                    facts.price_cents,
                    refund,
                    facts.commission_bps,
                ))],
            )
        }
        // Whatever the order was doing once money was captured, a chargeback freezes it; one
        // charge has one dispute at the processor.
        (from, Action::Chargeback)
            if has_captured(from)
                && facts.payment_mode == PaymentMode::Stripe
                && !facts.chargeback_open =>
        {
            to(Disputed, vec![OpenChargeback, StopTimers, ReverseTransfer])
        }
        (Disputed, Action::ChargebackWon(prior))
            if facts.chargeback_open && has_captured(prior) =>
        {
            let mut effects = vec![CloseChargeback, RepayTransfer];
            if prior == Delivered {
                effects.push(RestartAutoComplete);
            }
            to(prior, effects)
        }
        (Disputed, Action::ChargebackLost) if facts.chargeback_open => {
            to(Refunded, vec![CloseChargeback, ChargebackLoss])
        }
        _ => invalid,
    }
}

/// The actions of the public contract (`OrderAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderAction {
    Pay,
    MarkPaid,
    ConfirmPayment,
    Claim,
    Decline,
    Start,
    Deliver,
    RequestRevision,
    Complete,
    Cancel,
    OpenDispute,
    Review,
    ResolveDispute,
}

/// How the viewer relates to the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ViewerRoles {
    pub buyer: bool,
    pub provider: bool,
    pub admin: bool,
}

/// What the viewer may do now, in a stable order, from the same `transition`.
pub fn available_actions(
    status: OrderStatus,
    viewer: ViewerRoles,
    facts: &Facts,
    has_review: bool,
) -> Vec<OrderAction> {
    let can = |action: Action, actor: Actor| transition(status, action, actor, facts).is_ok();
    let mut out = Vec::new();
    if viewer.buyer {
        if status == OrderStatus::Placed && facts.payment_mode == PaymentMode::Stripe {
            out.push(OrderAction::Pay);
        }
        if can(Action::MarkPaid, Actor::Buyer) {
            out.push(OrderAction::MarkPaid);
        }
    }
    if viewer.provider {
        for (action, shown) in [
            (Action::ConfirmPayment, OrderAction::ConfirmPayment),
            (Action::Claim, OrderAction::Claim),
            (Action::Decline, OrderAction::Decline),
            (Action::Start, OrderAction::Start),
            (Action::Deliver, OrderAction::Deliver),
        ] {
            if can(action, Actor::Provider) {
                out.push(shown);
            }
        }
    }
    if viewer.buyer {
        for (action, shown) in [
            (Action::RequestRevision, OrderAction::RequestRevision),
            (Action::Complete, OrderAction::Complete),
            (Action::Cancel, OrderAction::Cancel),
        ] {
            if can(action, Actor::Buyer) {
                out.push(shown);
            }
        }
        if [
            DisputeReason::NonDelivery,
            DisputeReason::Quality,
            DisputeReason::Other,
        ]
        .into_iter()
        .any(|r| can(Action::OpenDispute(r), Actor::Buyer))
        {
            out.push(OrderAction::OpenDispute);
        }
        if !has_review && matches!(status, OrderStatus::Delivered | OrderStatus::Completed) {
            out.push(OrderAction::Review);
        }
    }
    if viewer.admin && can(Action::ResolveNoRefund, Actor::Admin) {
        out.push(OrderAction::ResolveDispute);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use OrderStatus::*;

    fn facts(mode: PaymentMode) -> Facts {
        Facts {
            payment_mode: mode,
            price_cents: 10_000,
            commission_bps: 1500,
            revisions_used: 0,
            revisions_included: 1,
            is_late: false,
            chargeback_open: false,
        }
    }

    const ACTORS: [Actor; 5] = [
        Actor::Buyer,
        Actor::Provider,
        Actor::Admin,
        Actor::System,
        Actor::Processor,
    ];

    fn actions() -> Vec<Action> {
        vec![
            Action::AuthorizationSucceeded,
            Action::PaymentFailed,
            Action::PaymentCanceled,
            Action::MarkPaid,
            Action::ConfirmPayment,
            Action::Cancel,
            Action::ExpireUnpaid,
            Action::Decline,
            Action::ReleaseUnclaimed,
            Action::Claim,
            Action::Start,
            Action::Deliver,
            Action::RequestRevision,
            Action::Complete,
            Action::AutoComplete,
            Action::MarkLate,
            Action::OpenDispute(DisputeReason::NonDelivery),
            Action::OpenDispute(DisputeReason::Quality),
            Action::ResolveRefund,
            Action::ResolveNoRefund,
            Action::ResolvePartial(2_500),
            Action::Chargeback,
            Action::ChargebackWon(Delivered),
            Action::ChargebackWon(Completed),
            Action::ChargebackWon(Placed),
            Action::ChargebackLost,
        ]
    }

    /// The specification: every (from, action, actor, mode, late) that is allowed, and where it
    /// leads. Everything not listed must be refused.
    fn expected(
        from: OrderStatus,
        action: Action,
        actor: Actor,
        mode: PaymentMode,
        late: bool,
        chargeback: bool,
    ) -> Option<OrderStatus> {
        use Action as A;
        use Actor::*;
        let stripe = mode == PaymentMode::Stripe;
        let manual = !stripe;
        Some(match (from, action, actor) {
            (Placed, A::AuthorizationSucceeded, Processor) if stripe => PaymentHeld,
            (Placed, A::PaymentFailed, Processor) => PaymentFailed,
            (Placed | PaymentHeld, A::PaymentCanceled, Processor) if stripe => Cancelled,
            (Placed, A::MarkPaid, Buyer) if manual => Placed,
            (Placed, A::ConfirmPayment, Provider) if manual => PaymentHeld,
            (Placed | PaymentHeld, A::Cancel, Buyer) => Cancelled,
            (Placed, A::ExpireUnpaid, System) => Cancelled,
            (PaymentHeld, A::Decline, Provider) => Cancelled,
            (PaymentHeld, A::ReleaseUnclaimed, System) => Cancelled,
            (PaymentHeld, A::Claim, Provider) => Claimed,
            (Claimed, A::Start, Provider) => InProgress,
            (Claimed | InProgress, A::Deliver, Provider) => Delivered,
            (Delivered, A::RequestRevision, Buyer) => InProgress,
            (Delivered, A::Complete, Buyer) => Completed,
            (Delivered, A::AutoComplete, System) => Completed,
            (Claimed | InProgress, A::Cancel, Buyer) if late => Refunded,
            (Claimed | InProgress, A::MarkLate, System) if late => from,
            (Claimed | InProgress, A::OpenDispute(DisputeReason::NonDelivery), Buyer) if late => {
                Disputed
            }
            (Delivered, A::OpenDispute(_), Buyer) => Disputed,
            (Disputed, A::ResolveRefund, Admin) if !chargeback => Refunded,
            (Disputed, A::ResolveNoRefund | A::ResolvePartial(_), Admin) if !chargeback => {
                Completed
            }
            (
                Claimed | InProgress | Delivered | Disputed | Completed | Refunded,
                A::Chargeback,
                Processor,
            ) if stripe && !chargeback => Disputed,
            (Disputed, A::ChargebackWon(prior @ (Delivered | Completed)), Processor)
                if chargeback =>
            {
                prior
            }
            (Disputed, A::ChargebackLost, Processor) if chargeback => Refunded,
            _ => return None,
        })
    }

    #[test]
    fn every_status_action_actor_mode_and_lateness_matches_the_table() {
        let mut allowed = 0;
        for mode in [PaymentMode::Stripe, PaymentMode::Manual] {
            for (late, chargeback) in [(false, false), (true, false), (false, true), (true, true)] {
                let f = Facts {
                    is_late: late,
                    chargeback_open: chargeback,
                    ..facts(mode)
                };
                for from in all_statuses() {
                    for action in actions() {
                        for actor in ACTORS {
                            let got = transition(from, action, actor, &f).map(|o| o.to).ok();
                            assert_eq!(
                                got,
                                expected(from, action, actor, mode, late, chargeback),
                                "{from:?} {action:?} by {actor:?} ({mode:?}, late={late}, chargeback={chargeback})"
                            );
                            allowed += usize::from(got.is_some());
                        }
                    }
                }
            }
        }
        assert!(allowed > 40, "the table allows {allowed} moves");
    }

    #[test]
    fn a_refused_action_says_why() {
        let f = facts(PaymentMode::Stripe);
        assert!(matches!(
            transition(Placed, Action::Claim, Actor::Provider, &f),
            Err(Refusal::InvalidState { .. })
        ));
        assert!(matches!(
            transition(PaymentHeld, Action::Claim, Actor::Buyer, &f),
            Err(Refusal::NotAllowed { .. })
        ));
        assert_eq!(
            transition(Placed, Action::MarkPaid, Actor::Buyer, &f),
            Err(Refusal::WrongPaymentMode)
        );
        assert_eq!(
            transition(Claimed, Action::Cancel, Actor::Buyer, &f),
            Err(Refusal::NotLate)
        );
        let used = Facts {
            revisions_used: 1,
            ..f
        };
        assert_eq!(
            transition(Delivered, Action::RequestRevision, Actor::Buyer, &used),
            Err(Refusal::RevisionsExhausted)
        );
        assert_eq!(
            transition(Disputed, Action::ResolvePartial(0), Actor::Admin, &f),
            Err(Refusal::InvalidRefund)
        );
        assert_eq!(
            transition(Disputed, Action::ResolvePartial(10_000), Actor::Admin, &f),
            Err(Refusal::InvalidRefund)
        );
        assert!(transition(Disputed, Action::ResolvePartial(9_999), Actor::Admin, &f).is_ok());
        let frozen = Facts {
            chargeback_open: true,
            ..f
        };
        assert_eq!(
            transition(Disputed, Action::ResolveNoRefund, Actor::Admin, &frozen),
            Err(Refusal::ChargebackOpen)
        );
    }

    #[test]
    fn a_chargeback_freezes_the_order_and_its_close_decides_the_money() {
        let f = facts(PaymentMode::Stripe);
        let opened =
            transition(Completed, Action::Chargeback, Actor::Processor, &f).expect("chargeback");
        assert_eq!(opened.to, Disputed);
        assert_eq!(
            opened.effects,
            vec![
                Effect::OpenChargeback,
                Effect::StopTimers,
                Effect::ReverseTransfer
            ]
        );
        let open = Facts {
            chargeback_open: true,
            ..f
        };
        let won = transition(
            Disputed,
            Action::ChargebackWon(Delivered),
            Actor::Processor,
            &open,
        )
        .expect("won");
        assert_eq!(won.to, Delivered);
        assert_eq!(
            won.effects,
            vec![
                Effect::CloseChargeback,
                Effect::RepayTransfer,
                Effect::RestartAutoComplete
            ]
        );
        let lost =
            transition(Disputed, Action::ChargebackLost, Actor::Processor, &open).expect("lost");
        assert_eq!(lost.to, Refunded);
        assert_eq!(
            lost.effects,
            vec![Effect::CloseChargeback, Effect::ChargebackLoss]
        );
        // A second chargeback on one charge, or one before any capture, is refused.
        assert!(transition(Disputed, Action::Chargeback, Actor::Processor, &open).is_err());
        assert!(transition(PaymentHeld, Action::Chargeback, Actor::Processor, &f).is_err());
        assert!(transition(
            Disputed,
            Action::ChargebackWon(PaymentHeld),
            Actor::Processor,
            &open
        )
        .is_err());
    }

    #[test]
    fn claiming_a_stripe_order_captures_and_completing_settles() {
        let f = facts(PaymentMode::Stripe);
        let claim = transition(PaymentHeld, Action::Claim, Actor::Provider, &f).expect("claim");
        assert_eq!(
            claim.effects,
            vec![Effect::Capture, Effect::InvoicePaid, Effect::StartSla]
        );
        let manual = transition(
            PaymentHeld,
            Action::Claim,
            Actor::Provider,
            &facts(PaymentMode::Manual),
        )
        .expect("claim");
        assert_eq!(manual.effects, vec![Effect::StartSla]);
        let done = transition(Delivered, Action::Complete, Actor::Buyer, &f).expect("complete");
        assert_eq!(
            done.effects,
            vec![Effect::Settle(Settlement {
                refund: 0,
                fee: 1500,
                transfer: 8500
            })]
        );
        let partial =
            transition(Disputed, Action::ResolvePartial(4_000), Actor::Admin, &f).expect("partial");
        assert_eq!(
            partial.effects,
            vec![Effect::Settle(Settlement {
                refund: 4_000,
                fee: 900,
                transfer: 5_100
            })]
        );
    }

    #[test]
    fn available_actions_follow_the_viewer_and_the_state() {
        let f = facts(PaymentMode::Manual);
        let buyer = ViewerRoles {
            buyer: true,
            ..Default::default()
        };
        let provider = ViewerRoles {
            provider: true,
            ..Default::default()
        };
        let admin = ViewerRoles {
            admin: true,
            ..Default::default()
        };
        assert_eq!(
            available_actions(Placed, buyer, &f, false),
            vec![OrderAction::MarkPaid, OrderAction::Cancel]
        );
        assert_eq!(
            available_actions(Placed, provider, &f, false),
            vec![OrderAction::ConfirmPayment]
        );
        assert_eq!(
            available_actions(PaymentHeld, provider, &f, false),
            vec![OrderAction::Claim, OrderAction::Decline]
        );
        assert_eq!(
            available_actions(Delivered, buyer, &f, false),
            vec![
                OrderAction::RequestRevision,
                OrderAction::Complete,
                OrderAction::OpenDispute,
                OrderAction::Review
            ]
        );
        assert_eq!(
            available_actions(Completed, buyer, &f, true),
            Vec::<OrderAction>::new()
        );
        assert_eq!(
            available_actions(Disputed, admin, &f, false),
            vec![OrderAction::ResolveDispute]
        );
        let frozen = Facts {
            chargeback_open: true,
            ..f
        };
        assert_eq!(
            available_actions(Disputed, admin, &frozen, false),
            Vec::<OrderAction>::new()
        );
        let stripe = facts(PaymentMode::Stripe);
        assert_eq!(
            available_actions(Placed, buyer, &stripe, false),
            vec![OrderAction::Pay, OrderAction::Cancel]
        );
    }

    fn any_action() -> impl Strategy<Value = (Action, Actor, bool)> {
        let actions = actions();
        (
            0..actions.len(),
            0..ACTORS.len(),
            any::<bool>(),
            1i64..10_000,
        )
            .prop_map(move |(a, who, late, refund)| {
                let action = match actions[a] {
                    Action::ResolvePartial(_) => Action::ResolvePartial(refund),
                    other => other,
                };
                (action, ACTORS[who], late)
            })
    }

    proptest! {
        /// Random sequences never reach an invalid state, and once money is captured the
        /// ledger of every closed order balances: charge = net transfers + net fee + refunds +
        /// what a lost chargeback took, whatever chargebacks came and went.
        #[test]
        fn random_action_sequences_keep_the_ledger_balanced(
            stripe in any::<bool>(),
            steps in proptest::collection::vec(any_action(), 1..40),
        ) {
            let mode = if stripe { PaymentMode::Stripe } else { PaymentMode::Manual };
            let mut status = Placed;
            let mut revisions_used = 0;
            let (mut chargeback_open, mut prior) = (false, Placed);
            let (mut charged, mut refunded, mut fees, mut paid, mut recovered, mut lost) =
                (0i64, 0i64, 0i64, 0i64, 0i64, 0i64);
            let price = 10_000;
            for (action, actor, late) in steps {
                let f = Facts { revisions_used, is_late: late, chargeback_open, ..facts(mode) };
                // The service resumes a won chargeback where the order stood.
                let action = match action {
                    Action::ChargebackWon(_) => Action::ChargebackWon(prior),
                    other => other,
                };
                let Ok(outcome) = transition(status, action, actor, &f) else { continue };
                prop_assert!(all_statuses().contains(&outcome.to));
                for effect in &outcome.effects {
                    match effect {
                        Effect::Capture => { prop_assert_eq!(charged, 0); charged = price; }
                        Effect::Settle(s) => {
                            prop_assert_eq!(s.total(), price);
                            prop_assert_eq!(refunded + fees + paid + recovered, 0, "settled twice");
                            refunded += s.refund; fees += s.fee; paid += s.transfer;
                        }
                        Effect::CountRevision => revisions_used += 1,
                        Effect::OpenChargeback => { chargeback_open = true; prior = status; }
                        Effect::CloseChargeback => chargeback_open = false,
                        Effect::ReverseTransfer => { recovered += paid; paid = 0; }
                        Effect::RepayTransfer => { paid += recovered; recovered = 0; }
                        Effect::ChargebackLoss => { fees = 0; recovered = 0; lost = charged - refunded; }
                        _ => {}
                    }
                }
                prop_assert!(revisions_used <= f.revisions_included);
                status = outcome.to;
                if stripe && is_closed(status) && status != Cancelled && status != PaymentFailed {
                    prop_assert_eq!(charged, paid + fees + refunded + lost,
                        "closed {:?}: charge {} paid {} fees {} refunded {} lost {}",
                        status, charged, paid, fees, refunded, lost);
                }
                if status == Cancelled || status == PaymentFailed {
                    prop_assert_eq!(charged, 0, "money captured on a {:?} order", status);
                }
            }
        }
    }
}

"""Every number of the policy, with its default and the seed clause it comes from.

The `PolicyTerms` block (editable in the Prefect UI) carries exactly these fields; each run reads
the block, turns it into a `Terms`, and the ledger keeps a copy of what a run used. Descriptions
cite the seeds: 000 Particeep FR 2020, 001 Particeep EN 2019, 002 ProConcept, 003 CRMJetty,
004 Mapping Suite.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Annotated, Literal

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policy.categories import BILLED_CATEGORIES
from policy.commitments import Commitment, default_commitments, unique_names
from policy.warnings import Offset, default_warnings, distinct_offsets
from policy.pauses import PauseRule, default_pause_on, unique_clocks
from policy.text import quoted
from policy.vat import vat_rate_problem

TierName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
from policy.service_credits import ServiceCredits

Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
Rate = Annotated[Decimal, Field(ge=0, le=1, max_digits=6, decimal_places=4)]
#: an hourly rate: at most 99,999,999.99 EUR (8 integer digits, as a monthly fee), so that an intervention of the
#: most minutes a row may have (intervention_max_minutes) is priced within what the ledger keeps of an amount
HourlyRate = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2)]


def _default_rates() -> dict[str, Decimal]:
    return {category: Decimal("120.00") for category in BILLED_CATEGORIES}


class Terms(BaseModel):
    """The policy's numbers. Frozen: a run works with one consistent copy."""

    model_config = ConfigDict(frozen=True)

    # Support quota
    included_minutes: int = Field(
        120, ge=0, le=100_000,
        description="Free intervention minutes per customer and calendar month; unused minutes do not "
        "roll over. Seed 000: 'une intervention gratuite sur vos plateformes dans une limite de 2h par mois'.",
    )
    billing_increment_minutes: int = Field(
        15, ge=1, le=1_440,
        description="Billed minutes are rounded up to this increment per intervention line. Seed 000/001: "
        "billed 'selon notre grille de services professionnels' (our grid bills quarter hours).",
    )
    hourly_rates: dict[str, HourlyRate] = Field(
        default_factory=_default_rates,
        description="EUR HT per hour for each billed category, at most 99999999.99. Seed 000: 'Toute autre demande "
        "d'assistance sera soumise à facturation selon notre grille de services professionnels'.",
    )
    data_recovery_fee: Money = Field(
        Decimal("250.00"),
        description="Fixed EUR HT fee per data recovery, on top of its minutes. Seed 000: 'La demande de "
        "récupération manuelle est une opération lourde soumise à une facturation'.",
    )
    feature_urgent_factor: Rate = Field(
        Decimal("0.50"),
        description="Share of the grid billed for an urgent roadmap feature. Seed 001: 'The functionality "
        "can be integrated into our roadmap and is urgent: the functionality is billed with a 50% discount'.",
    )

    # Subscription, VAT and due dates
    vat_rate: Rate = Field(
        Decimal("0.20"),
        description="Default VAT rate for customers without their own (French standard rate, 20 %).",
    )
    payment_terms_days: int = Field(
        30, ge=0, le=45,
        description="Days from issue to due date. French law caps periodic invoices at 45 days.",
    )
    invoice_language: Literal["fr", "en"] = Field(
        "fr", description="Language of the invoice documents and of the mails that carry them: French (what a French "
        "accountant expects) or English.",
    )
    workbook_language: Literal["fr", "en"] = Field(
        "fr", description="Language of the column headers and sheet names of finance's monthly workbook (the About "
        "sheet keeps the code names for scripts): French by default, English as an option.",
    )
    apply_credit_at_close: bool = Field(
        True, description="A customer's credit (an overpayment, a credit note beyond what was left to pay) settles its "
        "next invoice at the close, unless finance refunds it first; off: credit waits for a refund. Seed 003: 'if "
        "you pay accidentally twice, we will refund your extra payment'.",
    )
    cancellation_notice_days: int = Field(
        30, ge=0, le=366, description="Days of notice from the receipt of the registered letter before a cancellation "
        "may take effect. Seed 001: 'Send your request by registered letter with acknowledgment of receipt'; the "
        "length is 'according to the terms of your contract' (30 days here: set your contract's).",
    )
    cancellation_ends: Literal["end_of_period", "notice_end"] = Field(
        "end_of_period", description="When a cancellation takes effect once its notice has run: at the end of that "
        "billing period (the month; an annual contract's year) or on the notice's last day (the subscription is "
        "then prorated). Seed 001: 'according to the terms of your contract'.",
    )
    cancellation_data_retention_days: int = Field(
        90, ge=0, le=3650, description="Days a cancelled customer's data and backups are kept after the cancellation "
        "took effect (counted from the last day of service, or from the day before the product applied the "
        "cancellation when it was recorded late); the mail of that day announces the deletion, which is never due "
        "before `deletion_notice_days` after it, and waits for an approval like the arrears' deletion. Seeds 000/001 keep data only while "
        "the contract runs; 90 days leave room for a late restore request.",
    )
    invoice_retention_years: int = Field(
        10, ge=10, le=100, description="Years an invoice document is kept, never re-rendered nor deleted (French commercial "
        "law: 10 years, Code de commerce L123-22).",
    )

    # Payment methods (seed 001 'How to pay my Particeep subscription')
    card_surcharge_enabled: bool = Field(
        True,
        description="Whether card payments bear a surcharge (may be unlawful for some French customers). "
        "Seed 001: 'An additional processing cost of 2% of the invoice amount is applied'.",
    )
    card_surcharge_rate: Rate = Field(
        Decimal("0.02"), description="Card surcharge as a share of the invoice HT. Seed 001: '2% of the invoice amount'.",
    )
    installment_fee_enabled: bool = Field(
        True, description="Whether transfers in instalments bear a fee. Seed 001 'The transfer'.",
    )
    installment_fee: Money = Field(
        Decimal("20.00"),
        description="EUR HT per transaction for a subscription paid by transfer in instalments. Seed 001: "
        "'a flat-rate processing amount of 20 € ht per transaction is applied'.",
    )
    other_payment_fee_enabled: bool = Field(
        True, description="Whether other means of payment bear a fee. Seed 001.",
    )
    other_payment_fee: Money = Field(
        Decimal("20.00"),
        description="EUR HT for any other means of payment. Seed 001: 'Any other payment ... will be subject "
        "to a processing fee of 20 € excl taxes'.",
    )
    transfer_requires_annual: bool = Field(
        True,
        description="A subscription may be paid by single transfer only when paid at once for a year. Seed 001: "
        "'Only subscription fees paid in one go for at least one year of engagement can be paid by transfer'.",
    )

    # Standby (seed 001 'Put my platform to sleep')
    standby_max_months: int = Field(
        3, ge=1, le=24,
        description="Longest standby, in calendar months. Seed 001: 'The standby procedure cannot exceed 3 months'.",
    )
    standby_price_factor: Rate = Field(
        Decimal("0.50"),
        description="Share of the subscription billed for standby days. Seed 001: 'your license will then be: "
        "50% of the amount of your subscription'.",
    )
    standby_expiry_notice_days: int = Field(
        14, ge=0, le=365, description="Days before a standby ends that the customer is told it will end.",
    )

    # Arrears (seed 001 'Late payment of my subscription?')
    admin_disabled_after_months: int = Field(
        1, ge=1, le=120, description="Seed 001: 'After 1 month of delay, access to your administrator area is deactivated'.",
    )
    platform_disabled_after_months: int = Field(
        2, ge=1, le=120, description="Seed 001: 'After 2 months of delay, the complete platform is deactivated (data is not lost)'.",
    )
    data_deleted_after_months: int = Field(
        6, ge=1, le=120, description="Seed 001: 'After 6 months your data is deleted'.",
    )
    deletion_notice_days: int = Field(
        30, ge=1, le=365, description="Days between the deletion notice and the earliest deletion (never without notice).",
    )
    late_penalty_rate: Rate = Field(
        Decimal("0.10"),
        description="Penalty as a share of an overdue invoice's unpaid TTC. Seed 001: 'penalties of 10%'.",
    )
    late_indemnity: Money = Field(
        Decimal("40.00"),
        description="Fixed compensation per overdue invoice, EUR, no VAT. Seed 001: 'a fixed compensation of 40 €'.",
    )

    # Backups (seed 000/001 'Data recovery': 'Particeep performs regular data back-ups')
    keep_daily_backups: int = Field(7, ge=1, le=3_650, description="Newest good backup of each of the last N days is kept.")
    keep_weekly_backups: int = Field(5, ge=0, le=520, description="Newest good backup of each of the last N ISO weeks is kept.")
    keep_monthly_backups: int = Field(12, ge=0, le=1_200, description="Newest good backup of each of the last N months is kept.")
    backup_shard_size: int = Field(
        500, ge=1, le=100_000, description="Customers per shard of the nightly backup: each shard is a run of `backup-shard` "
        "that any worker of the pool may take (the shards run here when no worker serves the pool).",
    )
    verify_shard_size: int = Field(
        25, ge=1, le=100_000, description="Backups per shard of the weekly restore drill (a run of `verify-shard` each, for any "
        "worker of the pool).",
    )
    platform_database_shards: int = Field(
        4, ge=1, le=64, description="Most shards reading the customers' platform database at once, across every worker "
        "and machine (the Prefect global concurrency limit `platform-database`): backups must not slow the "
        "platform the customers are using.",
    )
    object_storage_shards: int = Field(
        6, ge=1, le=64, description="Most shards writing to or reading from the object storage at once, across every "
        "worker and machine (the Prefect global concurrency limit `object-storage`).",
    )

    # Imports: bounds that keep a hostile or careless file from reaching past them (docs/reference/import-formats.md "Bounds")
    import_max_bytes: int = Field(
        50_000_000, ge=1, le=10_000_000_000, description="Largest import file accepted, in bytes; a larger one is refused before it "
        "is read.",
    )
    import_max_rows: int = Field(
        1_000_000, ge=1, le=100_000_000, description="Most data rows an import file may have; more is refused whole.",
    )
    import_max_xlsx_bytes: int = Field(
        300_000_000, ge=1, le=10_000_000_000, description="Most bytes an .xlsx may unzip to (its sheets are compressed XML); checked "
        "before it is parsed, so a zip bomb is refused at once.",
    )
    import_max_xlsx_ratio: int = Field(
        100, ge=1, le=1_000, description="Highest compression ratio of an .xlsx (unzipped size / file size); real workbooks "
        "stay far below it, zip bombs far above.",
    )
    import_max_cell_chars: int = Field(
        10_000, ge=1, le=1_000_000, description="Longest cell an import file may hold, in characters.",
    )
    outbox_alert_after_hours: float = Field(
        0, ge=0, le=8_760, allow_inf_nan=False, description="How long a notice or an access change may stay pending (its mail server or the "
        "platform down; each run tries it again) before the run that finds it fails, which alerts ops. 0: at once.",
    )
    earliest_date: date = Field(
        date(2000, 1, 1), description="Earliest date a file, the helpdesk or a command may give (a payment, a "
        "ticket, a month to close or export, a letter received): older is a typo (0001-01-01) that would bill, "
        "cut or delete on a day nobody meant. It does not depend on when a customer was imported: a vendor "
        "closes past months for customers it imports today.",
    )
    horizon_days: int = Field(
        400, ge=1, le=3660, description="Days after today a date that may lie ahead (a due date, a standby's end, "
        "a contract's start, a month to close with --force) may reach; further is a typo (9999-12-31). Facts "
        "that cannot lie ahead (a payment, a refund, a ticket's moments, an imported invoice's issue date, an "
        "intervention's start) are refused after today.",
    )
    intervention_max_minutes: int = Field(
        10_000, ge=1, le=100_000, description="Most minutes one intervention row may carry (a week of work is 2,400); more is "
        "a typo or an attack, refused at import.",
    )

    # Service commitments (seeds 000/001 update frequency, 003 mail replies, 004 milestones, 002 levels)
    working_hours_start: time = Field(
        time(9, 0), description="Opening of the support's working day, Paris wall-clock time: a clock that "
        "starts outside working time starts at this hour on the next working day. Seed 003: 'CRMJetty traite les "
        "e-mails du week-end le lundi suivant ... au début de la semaine' (its hours: 'Du lundi au vendredi de "
        "10h00 à 18h00'); the product's working day: 09:00-18:00 Europe/Paris.",
    )
    working_hours_end: time = Field(
        time(18, 0), description="Closing of the support's working day, Paris wall-clock time (18:00 itself is "
        "outside working time); a working day is end - start long, on the DST change days too. Seed 003: 'Du "
        "lundi au vendredi de 10h00 à 18h00'.",
    )
    working_weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5], min_length=1, description="Working days of the week, ISO "
        "numbers (1 = Monday ... 7 = Sunday). Seed 003: 'Du lundi au vendredi'; seed 000's '15 jours ouvrés' "
        "count these days only.",
    )
    public_holidays_subdivision: str | None = Field(
        None, description="French public holidays are not working days (the `holidays` package's France: 1 Jan, "
        "Easter Monday, 1 and 8 May, Ascension, Whit Monday, 14 July, 15 Aug, 1 and 11 Nov, 25 Dec). Empty: "
        "metropolitan France; a subdivision code (e.g. '57' Moselle) adds its own. Seed 000: 'jours ouvrés'.",
    )
    extra_closed_days: list[date] = Field(
        default_factory=list, description="Further days the support does not work (a bridge day, the vendor's "
        "closing), on top of weekends and public holidays. Seed 000: 'jours ouvrés'.",
    )
    extra_working_days: list[date] = Field(
        default_factory=list, description="Days worked although a weekend day or a public holiday (e.g. Whit "
        "Monday worked as the 'journée de solidarité'); they win over every other rule. Seed 000: 'jours ouvrés'.",
    )
    commitment_at_risk_share: Rate = Field(
        Decimal("0.80"), description="A running clock is at risk once more than this share of its allowance is "
        "used (less than 1 - share left; working time for working-time clocks); at exactly the share it is still "
        "on track. docs/reference/policy.md 'Service commitments': at risk with less than 20 % of the allowance left.",
    )
    commitments: list[Commitment] = Field(
        default_factory=default_commitments, description="The clocks a ticket runs against, one row each: the "
        "ticket types (blocking_bug, bug, evolution, new_feature, question, assistance, customization, other), "
        "channels and levels it applies to, what starts it (received_at), what stops it (the earliest of "
        "first_response_at, workaround_at, resolved_at; closing the ticket stops every clock), its limit "
        "(amount and unit: working_hours, working_days at the same time of day, working_days_close at 18:00 of "
        "the Nth working day after the start day, calendar_days, calendar_months), milestones by severity, "
        "and its seed. Defaults: first response within 2 working days (003 '48 heures'), a blocking bug's "
        "workaround or fix within 1 working day, 4 working hours when critical (000 'immédiatement', 004 "
        "'solution de contournement'), bugs and evolutions delivered by 18:00 of the 15th working day (000 "
        "'15 jours ouvrés'), new features not before one month (000 'au minimum dans un délai d'un mois').",
    )

    warnings: list[Offset] = Field(
        default_factory=default_warnings, max_length=10, description="Warnings before each due time, in working "
        "time (amount and unit: working_hours or working_minutes): ops are alerted once per ticket, clock and "
        "offset when that much working time is left, the tightest passed offset only; an offset not shorter than "
        "a clock's allowance is skipped. Alerts computed outside working hours wait for the next opening, a "
        "blocking bug's go at once. Default: 4 and 1 working hours before (seed 004: 'Les jalons de traitement "
        "de l'incident sont fonction de la sévérité de l'anomalie'; ops act before a milestone is missed).",
    )
    pause_on: list[PauseRule] = Field(
        default_factory=default_pause_on, description="Which clocks stand still on which ticket statuses (open, "
        "waiting_customer, in_progress), one row per clock with its seed or stated reason: the due time moves by "
        "exactly the working time the clock stood still. A change applies from the moment the commitments run "
        "first sees it (time already paused stays paused); a row naming a clock no commitment set has pauses nothing. Defaults: the first response and the delivery wait "
        "while the ticket is waiting_customer (003 asks the customer for what it needs to resolve: the time "
        "spent waiting for it is the customer's); a blocking bug's workaround never waits (000 'immédiatement').",
    )
    tiers: dict[TierName, list[Commitment]] = Field(
        default_factory=dict, description="Named commitment sets for customers whose contract promises other "
        "times (a customer's `commitment_tier`), each a whole set of rows like `commitments`; a customer without "
        "a tier (or with one the terms no longer have) runs against `commitments`. E.g. premium: a first response "
        "within 4 working_hours. None by default: the seeds promise one set to every customer.",
    )
    service_credits: ServiceCredits = Field(
        default_factory=ServiceCredits, description="Missed commitments pay back (off by default): a clock not "
        "stopped by its due time gives back a share of that month's subscription (the customer's monthly fee), per "
        "clock and severity (`rates`, the first matching row), at most `monthly_cap` of the fee per customer and "
        "month; the month's close applies them as their own invoice lines, each citing its ticket, and a credit "
        "larger than the invoice becomes a credit note. No seed grants them: a vendor's commercial choice.",
    )

    @field_validator("vat_rate")
    @classmethod
    def _vat_rate_is_a_vat_rate(cls, rate: Decimal) -> Decimal:
        problem = vat_rate_problem(rate)
        if problem:
            raise ValueError(problem)
        return rate

    @field_validator("commitments")
    @classmethod
    def _commitment_names_are_unique(cls, commitments: list[Commitment]) -> list[Commitment]:
        return unique_names(commitments)

    @field_validator("warnings")
    @classmethod
    def _warning_offsets_are_distinct(cls, warnings: list[Offset]) -> list[Offset]:
        return distinct_offsets(warnings)

    @field_validator("tiers")
    @classmethod
    def _tier_names_are_unique(cls, tiers: dict[str, list[Commitment]]) -> dict[str, list[Commitment]]:
        for name, commitments in tiers.items():
            if not commitments:
                raise ValueError(f"tier {name!r} has no commitment")
            unique_names(commitments)
        return tiers

    @field_validator("pause_on")
    @classmethod
    def _one_rule_a_clock(cls, rules: list[PauseRule]) -> list[PauseRule]:
        return unique_clocks(rules)

    @field_validator("public_holidays_subdivision")
    @classmethod
    def _subdivision_is_french(cls, subdivision: str | None) -> str | None:
        if subdivision in (None, ""):
            return None
        if subdivision not in holidays.France.subdivisions:
            raise ValueError(f"not a subdivision of France in the holidays package: {quoted(subdivision)} (one of "
                             f"{', '.join(holidays.France.subdivisions)})")
        return subdivision

    @model_validator(mode="after")
    def _working_hours_make_a_day(self) -> Terms:
        if not self.working_hours_start < self.working_hours_end:
            raise ValueError(f"working hours must start before they end: {self.working_hours_start} to "
                             f"{self.working_hours_end}")
        if len(set(self.working_weekdays)) != len(self.working_weekdays):
            raise ValueError(f"a working weekday is repeated: {self.working_weekdays}")
        return self

    def rate_for(self, category: str) -> Decimal:
        return self.hourly_rates.get(category, Decimal("120.00"))

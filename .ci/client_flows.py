"""Each dialect's main flow, driven through the Python client generated from its
committed spec (openapi-python-client), the way a developer who only read our spec
would write it: create a payment, look it up by the id the answer returned, pay it
through the sandbox client, look it up again, then refund it or send a payout where the
dialect has one, and look that up too.

Usage: python client_flows.py BASE_URL CREDENTIALS_JSON
(the generated packages `<dialect>_client` on sys.path; `.ci/clients` sets that up).
"""

import json
import sys
import uuid
from urllib.parse import urlparse

BASE = sys.argv[1].rstrip("/")
CREDENTIALS = {c["dialect"]: c for c in json.load(open(sys.argv[2]))}


def client(package, mount, dialect=None):
    """The generated `Client` of `package`, at `mount` on paybridge, sending the
    dialect's credential headers on every request."""
    headers = CREDENTIALS[dialect]["headers"] if dialect else {}
    return package.Client(base_url=BASE + mount, headers=headers, raise_on_unexpected_status=True)


def expect(response, status, model):
    """The parsed answer, which must be `status` and parse as `model`."""
    assert response.status_code == status, f"{response.status_code}: {response.content!r}"
    parsed = response.parsed
    assert isinstance(parsed, model), f"expected {model.__name__}, parsed {parsed!r}"
    return parsed


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


def pay(checkout_url):
    """Completes the payment behind a hosted checkout URL with the sandbox client, as
    the customer paying; answers the processor's transaction id."""
    import sandbox_client
    from sandbox_client.api.checkout import complete_checkout
    from sandbox_client.models import CheckoutState, CompleteRequest, Outcome

    token = urlparse(checkout_url).path.rstrip("/").rsplit("/", 1)[-1]
    sandbox = client(sandbox_client, "/sandbox")
    state = expect(
        complete_checkout.sync_detailed(token, client=sandbox, body=CompleteRequest(outcome=Outcome.SUCCESS)),
        200,
        CheckoutState,
    )
    assert state.status in ("succeeded", "processing"), state
    return state.transaction_id


def rebornpay():
    import rebornpay_client
    from rebornpay_client.api.payments import create_payment, payment_status, verify_payment
    from rebornpay_client.api.refunds import refund_status, request_refund
    from rebornpay_client.models import (
        CreatePaymentRequest,
        CurrencyCode,
        PaymentMethod,
        PaymentResponse,
        RefundRequest,
        RefundResponse,
        Status,
        VerifyRequest,
        VerifyResponse,
    )

    api = client(rebornpay_client, "/rebornpay", "rebornpay")
    invoice = unique("INV")
    created = expect(
        create_payment.sync_detailed(
            client=api,
            body=CreatePaymentRequest(
                invoice_id=invoice, amount=2500, currency=CurrencyCode.BDT, payment_method=PaymentMethod.BKASH
            ),
            idempotency_key=unique("idem"),
        ),
        200,
        PaymentResponse,
    ).data
    assert created.status == Status.PENDING, created.status
    looked_up = expect(payment_status.sync_detailed(created.invoice_id, client=api), 200, PaymentResponse).data
    assert looked_up.invoice_id == invoice
    # The customer pays; the merchant then verifies the transaction id they were given.
    transaction = pay(created.checkout_url)
    verified = expect(
        verify_payment.sync_detailed(
            client=api, body=VerifyRequest(invoice_id=invoice, transaction_id=transaction, status="success")
        ),
        200,
        VerifyResponse,
    ).data
    assert verified.verified and verified.status == Status.SUCCESS, verified
    paid = expect(payment_status.sync_detailed(invoice, client=api), 200, PaymentResponse).data
    assert paid.status == Status.SUCCESS, paid.status
    refund = expect(
        request_refund.sync_detailed(client=api, body=RefundRequest(invoice_id=invoice, amount=1000, reason="client flow")),
        200,
        RefundResponse,
    ).data
    again = expect(refund_status.sync_detailed(refund.refund_id, client=api), 200, RefundResponse).data
    assert again.refund_id == refund.refund_id and again.amount == 1000, again
    return f"payment {invoice} paid, refund {refund.refund_id} {again.status.value}"


def shadhinpay():
    import shadhinpay_client
    from shadhinpay_client.api.payments import create_payment, get_payment, refund_payment
    from shadhinpay_client.models import (
        CreatePaymentRequest,
        CreateResponse,
        CurrencyCode,
        PaymentResponse,
        RefundRequest,
        RefundResponse,
        Status,
    )

    api = client(shadhinpay_client, "/shadhinpay/api/v1", "shadhinpay")
    created = expect(
        create_payment.sync_detailed(
            client=api,
            body=CreatePaymentRequest(
                amount=1500,
                currency=CurrencyCode.BDT,
                customer_phone="8801712345678",
                callback_url="https://shop.example.com/hook",
            ),
            idempotency_key=unique("idem"),
        ),
        201,
        CreateResponse,
    ).data
    looked_up = expect(get_payment.sync_detailed(created.payment_id, client=api), 200, PaymentResponse).data
    assert looked_up.payment_id == created.payment_id and looked_up.amount == 1500
    pay(created.payment_url)
    paid = expect(get_payment.sync_detailed(created.payment_id, client=api), 200, PaymentResponse).data
    assert paid.status == Status.COMPLETED, paid.status
    refund = expect(
        refund_payment.sync_detailed(
            created.payment_id, client=api, body=RefundRequest(amount=500, reason="client flow"), idempotency_key=unique("idem")
        ),
        200,
        RefundResponse,
    ).data
    assert refund.payment_id == created.payment_id and refund.amount == 500, refund
    return f"payment {created.payment_id} paid, refund {refund.refund_id} {refund.status.value}"


def starpay():
    import starpay_client
    from starpay_client.api.payments import create_payment, get_payment
    from starpay_client.api.payouts import create_payout, list_payouts
    from starpay_client.models import (
        CreatePaymentRequest,
        CreatePayoutRequest,
        CurrencyCode,
        PaymentMethod,
        PaymentResponse,
        PaymentState,
        PayoutList,
        PayoutResponse,
    )

    api = client(starpay_client, "/starpay/api/v1", "starpay")
    order = unique("TXN")
    created = expect(
        create_payment.sync_detailed(
            client=api,
            body=CreatePaymentRequest(
                order_id=order, amount=5000, currency=CurrencyCode.INR, payment_method=PaymentMethod.UPI
            ),
            idempotency_key=unique("idem"),
        ),
        201,
        PaymentResponse,
    ).data
    looked_up = expect(get_payment.sync_detailed(created.transaction_id, client=api), 200, PaymentResponse).data
    assert looked_up.order_id == order
    pay(created.payment_url)
    paid = expect(get_payment.sync_detailed(created.transaction_id, client=api), 200, PaymentResponse).data
    assert paid.status == PaymentState.COMPLETED, paid.status
    reference = unique("PAYOUT")
    payout = expect(
        create_payout.sync_detailed(
            client=api,
            body=CreatePayoutRequest(
                amount=1000,
                currency=CurrencyCode.INR,
                account_holder_name="Jane Smith",
                account_number="123456789012",
                bank_name="State Bank of India",
                ifsc_code="SBIN0001234",
                reference=reference,
            ),
            idempotency_key=unique("idem"),
        ),
        201,
        PayoutResponse,
    ).data
    listed = expect(list_payouts.sync_detailed(client=api), 200, PayoutList)
    assert payout.payout_id in [p.payout_id for p in listed.data], listed
    return f"payment {created.transaction_id} paid, payout {payout.payout_id} {payout.status.value}"


def payrequest():
    import payrequest_client
    from payrequest_client.api.payments import create_payment, get_payment
    from payrequest_client.models import CreateRequest, CreateResponse, GetRequest, GetResponse

    api = client(payrequest_client, "/payrequest")
    token = CREDENTIALS["payrequest"]["suite"]["token"]
    reference = unique("PR")
    created = expect(
        create_payment.sync_detailed(
            client=api,
            body=CreateRequest(
                token=token,
                id=reference,
                title="Invoice 15123-14",
                amount="12,25",
                type_="direct",
                response="https://shop.example.com/responsehandler",
            ),
        ),
        200,
        CreateResponse,
    )
    assert created.status == "success", created
    looked_up = expect(get_payment.sync_detailed(client=api, body=GetRequest(token=token, id=reference)), 200, GetResponse)
    assert looked_up.status == "pending", looked_up
    pay(created.url)
    paid = expect(get_payment.sync_detailed(client=api, body=GetRequest(token=token, id=reference)), 200, GetResponse)
    assert paid.status == "paid", paid
    return f"payment {reference} paid (PayRequest has no refund or payout call)"


def qrmoney():
    import qrmoney_client
    from qrmoney_client.api.payments import create_payment, payment_request_status, refund_payment
    from qrmoney_client.models import (
        CreatePaymentRequest,
        CreateResponse,
        CurrencyCode,
        PaymentRequestStatus,
        RefundResponse,
    )

    api = client(qrmoney_client, "/qrmoney", "qrmoney")
    account = CREDENTIALS["qrmoney"]["suite"]["account_id"]
    created = expect(
        create_payment.sync_detailed(
            account,
            client=api,
            body=CreatePaymentRequest(
                name="John Doe",
                number="4242424242424242",
                expiration="12/40",
                cvv="123",
                email="john.doe@example.com",
                phone_number="13055550100",
                address="1 Ocean Drive",
                city="Miami",
                state="FL",
                postal_code="33101",
                country="US",
                amount=10.5,
                unit=CurrencyCode.USD,
                reference_id=unique("ORDER"),
            ),
            idempotency_key=unique("idem"),
        ),
        200,
        CreateResponse,
    )
    status = expect(payment_request_status.sync_detailed(created.id, client=api), 200, PaymentRequestStatus)
    assert status.id == created.id and status.transaction_status_id == created.transaction_status_id, status
    refund = expect(refund_payment.sync_detailed(created.id, client=api), 200, RefundResponse)
    assert refund.id == created.id and refund.amount == 10.5, refund
    return f"card payment {created.id} charged, refund {refund.refund_id} {refund.status}"


failed = False
for flow in (rebornpay, shadhinpay, starpay, payrequest, qrmoney):
    try:
        print(f"{flow.__name__}: {flow()}")
    except Exception as error:  # one dialect's failure must not hide the others'
        failed = True
        print(f"{flow.__name__}: FAILED: {type(error).__name__}: {error}")
sys.exit(1 if failed else 0)

"""Operators read queues and messages in the admin, but never see a receipt handle."""

import pytest

from lambent.queues.models import Message, Queue
from tests.queues.conftest import receive, send


@pytest.fixture
def operator_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("operator", "op@example.com", "pw"))
    return client


def test_queue_and_message_pages(operator_client, api, create_queue):
    create_queue()
    send(api, "visible to operators")
    handle = receive(api)[0]["receipt_handle"]
    queue, message = Queue.objects.get(), Message.objects.get()
    for url in ["/admin/queues/queue/", f"/admin/queues/queue/{queue.pk}/change/", "/admin/queues/message/",
                f"/admin/queues/message/{message.pk}/change/"]:
        page = operator_client.get(url)
        assert page.status_code == 200, url
        assert handle not in page.content.decode()
    assert "visible to operators" in operator_client.get(f"/admin/queues/message/{message.pk}/change/").content.decode()
    assert operator_client.get("/admin/queues/message/add/").status_code == 403

from app import SERVICE_NAME, create_app


def test_index_names_the_service():
    response = create_app().test_client().get("/")

    assert response.status_code == 200
    assert response.get_json()["service"] == "${{ values.name }}" == SERVICE_NAME


def test_probes_answer_ok():
    client = create_app().test_client()

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_metrics_count_requests():
    client = create_app().test_client()
    client.get("/")

    body = client.get("/metrics").get_data(as_text=True)

    assert 'http_requests_total{code="200",method="GET",path="/"}' in body

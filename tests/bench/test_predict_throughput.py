"""The pointea-predict throughput measurement runs end to end and reports consistent figures."""

from pointea.bench.predict_throughput import measure_predict_throughput


def test_predict_throughput_reports_both_rates_and_their_ratio():
    result = measure_predict_throughput(files=2, batch_size=2, workers=0, threads=1, onnx=False)
    assert result["files"] == 2 and result["lines_per_file"] == 10_000 and result["megabytes"] > 0.5
    assert result["forward_files_per_s"] > 0 and result["predict_files_per_s"] > 0
    assert abs(result["predict_over_forward"] - result["predict_files_per_s"] / result["forward_files_per_s"]) < 0.01

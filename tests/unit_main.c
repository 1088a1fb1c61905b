/* Runs one Check suite; the suite's constructor is named by UNIT_SUITE. */
#include <stdlib.h>
#include <check.h>

Suite *UNIT_SUITE(void);

int
main(void)
{
	SRunner *sr = srunner_create(UNIT_SUITE());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

"""The Clean Descriptors Option of DICOM PS3.15 Annex E (Table E.1-1, column "Clean Desc.").

The text attributes that option marks ``C``: kept after cleaning instead of removed. The basic
profile table itself comes from ``dicom-anonymizer`` (see ``orthogui.io.deid``); its copy of
Table E.1-1 carries no option columns, so this one is written out here from the standard.
"""

from __future__ import annotations

CLEAN_DESCRIPTORS: frozenset[str] = frozenset(
    {
        "AcquisitionComments",  # (0018,4000) LT
        "AcquisitionDeviceProcessingDescription",  # (0018,1400) LO
        "AcquisitionFieldOfViewLabel",  # (0018,11BB) LO
        "AcquisitionProtocolDescription",  # (0018,9424) LT
        "AdditionalPatientHistory",  # (0010,21B0) LT
        "AdmittingDiagnosesDescription",  # (0008,1080) LO
        "Allergies",  # (0010,2110) LO
        "AnnotationGroupDescription",  # (006A,0006) UT
        "AnnotationGroupLabel",  # (006A,0005) LO
        "BeamDescription",  # (300A,00C3) ST
        "BolusDescription",  # (300A,00DD) ST
        "ClinicalTrialSeriesDescription",  # (0012,0072) LO
        "ClinicalTrialTimePointDescription",  # (0012,0051) ST
        "CommentsOnRadiationDose",  # (0040,0310) ST
        "CommentsOnThePerformedProcedureStep",  # (0040,0280) ST
        "CompensatorDescription",  # (300A,02EB) LT
        "ConceptualVolumeCombinationDescription",  # (3010,000F) ST
        "ConceptualVolumeDescription",  # (3010,0017) ST
        "ContainerDescription",  # (0040,051A) LO
        "ContrastBolusAgent",  # (0018,0010) LO
        "ContributionDescription",  # (0018,A003) ST
        "DecompositionDescription",  # (0018,937F) UT
        "DerivationDescription",  # (0008,2111) ST
        "DischargeDiagnosisDescription",  # (0038,0040) LO
        "DisplacementReferenceLabel",  # (300A,079A) LO
        "DoseReferenceDescription",  # (300A,0016) LO
        "EntityDescription",  # (3010,0037) ST
        "EntityLabel",  # (3010,0035) SH
        "EntityLongLabel",  # (3010,0038) LO
        "EntityName",  # (3010,0036) LO
        "EquipmentFrameOfReferenceDescription",  # (300A,0676) ST
        "FilterLookupTableDescription",  # (003A,032B) ST
        "FixationDeviceDescription",  # (300A,0196) ST
        "FractionGroupDescription",  # (300A,0072) LO
        "FractionationNotes",  # (3010,007F) UT
        "FrameComments",  # (0020,9158) LT
        "IdentifyingComments",  # (0008,4000) LT
        "ImageComments",  # (0020,4000) LT
        "ImagingServiceRequestComments",  # (0040,2400) LT
        "Impressions",  # (4008,0300) ST
        "InterlockDescription",  # (300A,0742) ST
        "InterlockOriginDescription",  # (300A,0783) ST
        "InterpretationDiagnosisDescription",  # (4008,0115) LT
        "InterpretationText",  # (4008,010B) ST
        "LabelText",  # (2200,0002) UT
        "LongDeviceDescription",  # (0050,0021) ST
        "MedicalAlerts",  # (0010,2000) LO
        "MultienergyAcquisitionDescription",  # (0018,937B) UT
        "Occupation",  # (0010,2180) SH
        "PatientComments",  # (0010,4000) LT
        "PatientSetupPhotoDescription",  # (300A,0794) LT
        "PatientState",  # (0038,0500) LO
        "PatientTreatmentPreparationMethodDescription",  # (300A,0792) LT
        "PatientTreatmentPreparationProcedureParameterDescription",  # (300A,078E) LT
        "PerformedProcedureStepDescription",  # (0040,0254) LO
        "PositionAcquisitionTemplateDescription",  # (3002,0123) LT
        "PositionAcquisitionTemplateName",  # (3002,0121) LO
        "PrescriptionDescription",  # (300A,000E) ST
        "PrescriptionNotes",  # (3010,007B) UT
        "PriorTreatmentDoseDescription",  # (3010,0061) UT
        "ProtocolName",  # (0018,1030) LO
        "PyramidDescription",  # (0008,1088) LO
        "PyramidLabel",  # (0020,0027) LO
        "ROIDescription",  # (3006,0028) ST
        "ROIGenerationDescription",  # (3006,0038) LO
        "ROIName",  # (3006,0026) LO
        "ROIObservationDescription",  # (3006,0088) ST
        "ROIObservationLabel",  # (3006,0085) SH
        "RTPhysicianIntentNarrative",  # (3010,005A) UT
        "RTPlanDescription",  # (300A,0004) ST
        "RTPlanLabel",  # (300A,0002) SH
        "RTPlanName",  # (300A,0003) LO
        "RTPrescriptionLabel",  # (3010,0054) LO
        "RTToleranceSetLabel",  # (300A,062A) LO
        "RTTreatmentApproachLabel",  # (3010,0056) LO
        "RadiationDoseIdentificationLabel",  # (300A,0619) LO
        "RadiationDoseInVivoMeasurementLabel",  # (300A,0623) LO
        "RadiationGenerationModeDescription",  # (300A,067D) ST
        "RadiationGenerationModeLabel",  # (300A,067C) SH
        "ReasonForOmissionDescription",  # (300C,0113) LO
        "ReasonForStudy",  # (0032,1030) LO
        "ReasonForSuperseding",  # (3010,005C) ST
        "ReasonForTheAttributeModification",  # (0400,0565) CS
        "ReasonForTheImagingServiceRequest",  # (0040,2001) LO
        "ReasonForTheRequestedProcedure",  # (0040,1002) LO
        "ReasonForVisit",  # (0032,1066) UT
        "RequestedContrastAgent",  # (0032,1070) LO
        "RequestedProcedureComments",  # (0040,1400) LT
        "RequestedProcedureDescription",  # (0032,1060) LO
        "RequestedSeriesDescription",  # (0018,9937) LO
        "RespiratoryMotionCompensationTechniqueDescription",  # (0018,9185) ST
        "ResultsComments",  # (4008,4000) ST
        "ScheduledProcedureStepDescription",  # (0040,0007) LO
        "SelectorLOValue",  # (0072,0066) LO
        "SelectorLTValue",  # (0072,0068) LT
        "SelectorSHValue",  # (0072,006C) SH
        "SelectorSTValue",  # (0072,006E) ST
        "SelectorUTValue",  # (0072,0070) UT
        "SeriesDescription",  # (0008,103E) LO
        "ServiceEpisodeDescription",  # (0038,0062) LO
        "SetupTechniqueDescription",  # (300A,01B2) ST
        "ShieldingDeviceDescription",  # (300A,01A6) ST
        "SpecimenDetailedDescription",  # (0040,0602) UT
        "SpecimenShortDescription",  # (0040,0600) LO
        "StructureSetDescription",  # (3006,0006) ST
        "StructureSetLabel",  # (3006,0002) SH
        "StructureSetName",  # (3006,0004) LO
        "StudyComments",  # (0032,4000) LT
        "StudyDescription",  # (0008,1030) LO
        "TreatmentPositionGroupLabel",  # (300A,0608) LO
        "TreatmentSite",  # (3010,0077) LO
        "TreatmentSites",  # (300A,000B) LO
        "TreatmentTechniqueNotes",  # (3010,007A) UT
        "TreatmentToleranceViolationDescription",  # (300A,0734) ST
        "UserContentLabel",  # (3010,0033) SH
        "UserContentLongLabel",  # (3010,0034) LO
        "VisitComments",  # (0038,4000) LT
        "WaveformFilterDescription",  # (003A,0329) ST
    }
)
"""Keywords of the text attributes (LO, SH, ST, LT, UT, CS) marked ``C`` under the option;
its coded sequences and binary attributes keep the basic profile action."""
